// How the demo shows a step summary (GitHub Markdown) in a terminal: headings in bold, tables
// aligned with cells cut at a word, links as their address, charts named, details left out.

/**
 * A text cut to `width` characters at most, at the end of a word when one ends in the second half
 * of the width (a long word or path is cut where it must), with an ellipsis for what was left out.
 */
export function cut(text: string, width: number): string {
  if (text.length <= width) return text;
  const room = text.slice(0, width - 1);
  const end = Math.max(room.lastIndexOf(' '), room.lastIndexOf('('), room.lastIndexOf('/') + 1);
  const kept = end >= width / 2 ? room.slice(0, end) : room;
  return `${kept.replace(/[\s,;:(–—-]+$/, '')}…`;
}

/** Markdown's inline marks as a terminal shows them: a link as its label and address, no escapes, no emphasis or code marks. */
export function inlineText(markdown: string): string {
  const unescape = (text: string) => text.replace(/\\([\\`*_{}[\]()#+\-.!|:>~$<&])/g, '$1');
  return markdown
    .replace(/\[((?:\\.|[^\]\\])*)\]\(([^)\s]+)\)/g, (_match, label: string, url: string) =>
      unescape(label) === url ? url : `${unescape(label)} (${url})`,
    )
    .replace(/\*\*([^*]+)\*\*/g, '$1')
    .replace(/(?<!\\)`+/g, '')
    .replace(/\\([\\`*_{}[\]()#+\-.!|:>~$<&])/g, '$1')
    .replace(/\u200d/g, '');
}

/** The widest a table column is shown; the last one may take what is left of a line of LINE_WIDTH. */
const CELL_WIDTH = 48;
const LINE_WIDTH = 140;

/** A step summary as a terminal shows it; `upTo`: stop at the first line starting with it. */
export function terminalMarkdown(markdown: string, options: { upTo?: string } = {}): string {
  const out: string[] = [];
  const lines = markdown.split('\n');
  const cells = (row: string): string[] =>
    row
      .replace(/^\|\s?|\s?\|$/g, '')
      .split(/(?<!\\) \| /)
      .map((cell) => inlineText(cell).trim());
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (options.upTo && line.startsWith(options.upTo)) break;
    if (line.startsWith('<details>')) {
      while (i < lines.length && !lines[i]!.startsWith('</details>')) i++;
      continue;
    }
    if (line.startsWith('```mermaid')) {
      const block: string[] = [];
      while (++i < lines.length && !lines[i]!.startsWith('```')) block.push(lines[i]!);
      const title = /title "([^"]*)"/.exec(block.join('\n'))?.[1] ?? 'chart';
      out.push(`    [chart in the step summary: ${title}]`);
      continue;
    }
    if (line.startsWith('```')) {
      while (++i < lines.length && !lines[i]!.startsWith('```')) out.push(`    │ ${lines[i]}`);
      continue;
    }
    if (line.startsWith('|')) {
      const full: string[][] = [];
      for (; i < lines.length && lines[i]!.startsWith('|'); i++)
        if (!/^\|[\s|:-]+\|$/.test(lines[i]!)) full.push(cells(lines[i]!));
      i--;
      const last = full[0]!.length - 1;
      const before = full[0]!
        .slice(0, last)
        .reduce(
          (sum, _, column) =>
            sum + Math.min(CELL_WIDTH, Math.max(...full.map((row) => (row[column] ?? '').length))) + 2,
          4,
        );
      const rows = full.map((row) =>
        row.map((cell, column) => cut(cell, column === last ? Math.max(CELL_WIDTH, LINE_WIDTH - before) : CELL_WIDTH)),
      );
      const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
      for (const [index, row] of rows.entries()) {
        const text = row
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join('  ')
          .trimEnd();
        out.push(`    ${index === 0 ? `\x1b[2m${text}\x1b[0m` : text}`);
      }
      continue;
    }
    if (/^#{1,4} /.test(line)) out.push(`  \x1b[1m${inlineText(line.replace(/^#+ /, ''))}\x1b[0m`);
    else if (line.trim() !== '') out.push(`    ${inlineText(line)}`);
  }
  return out.join('\n');
}
