/**
 * Every text that leaves the process, one function per place it lands. A version, a lock owner, a
 * reason, an error from a host or an API is data, whoever wrote it; each surface has its own way
 * of running data as something else, so each has its own rules:
 *
 * - the runner's log (`forLog`): workflow commands, in both of the runner's syntaxes, and
 *   control characters;
 * - a terminal (`forTerminal`, `terminalJson`): control characters and escape sequences (erasing
 *   a line, moving the cursor, setting the window title or the clipboard);
 * - Markdown rendered by GitHub, in step summaries and issues (`forMarkdown`, `markdownCode`,
 *   `codeBlock`): links, images, HTML, mentions, headings and list markers, table cells;
 * - Slack's mrkdwn (`forSlack`): links and mentions.
 *
 * Nothing is deleted: what would act is made visible and inert, so a reader sees what a host sent.
 * Pure, no dependencies: every bundle may carry it.
 */

/** `\xNN` for a character below U+0100, `\uNNNN` (or `\u{NNNNN}`) above. */
function visible(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Characters that act rather than show, or that show nothing: C0 controls but tab and line feed
 * (ESC starts ANSI sequences, CR returns to the start of the line, BEL ends an OSC), DEL, C1
 * controls (U+009B is a one-character CSI, U+009D an OSC, U+0085 a line break to .NET), the line
 * and paragraph separators, format characters (zero-width and bidirectional controls, which hide
 * or reorder text) and unpaired surrogates.
 */
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\0-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]|\p{Cs}/gu;

const showInvisible = (text: string): string => text.replace(INVISIBLE, visible);

/**
 * What .NET's `Char.IsWhiteSpace` holds, so what the runner's `TrimStart()` strips before it looks
 * for `::`: tab to CR, space, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F,
 * U+205F and U+3000 (not U+FEFF, not U+001C–U+001F). JavaScript's `\s` misses U+0085.
 */
const DOTNET_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING_COMMAND = new RegExp(`^([${DOTNET_SPACE}]*):(?=:)`);

/**
 * For the runner's log: a log line, an annotation, a group title, the step's failure. The runner
 * reads its output line by line (.NET's ReadLine: LF, CR and CRLF end a line) and runs a line as
 * a workflow command (`add-mask`, `stop-commands`, `set-output`, `error`) when it starts with `::`
 * once .NET white space is trimmed, or when it holds `##[` anywhere (the old syntax). On every
 * line, a leading `::` becomes `:\:` and every `##[` becomes `##\[`; control and invisible
 * characters are shown escaped (`\x1b`), so nothing restyles or hides a line.
 */
export function forLog(text: string): string {
  return showInvisible(text.replace(/\r\n?/g, '\n'))
    .split('\n')
    .map((line) => line.replace(LEADING_COMMAND, '$1:\\').replaceAll('##[', '##\\['))
    .join('\n');
}

/**
 * For a terminal: no control character but line feed and tab, so no escape sequence (CSI, OSC,
 * a lone CR) can erase a line, move the cursor, set the window title or the clipboard; each is
 * shown escaped (`\x1b]0;…`). CRLF becomes LF.
 */
export function forTerminal(text: string): string {
  return showInvisible(text.replace(/\r\n/g, '\n'));
}

/**
 * A value as JSON for a terminal: JSON.stringify leaves DEL, C1 controls, U+2028/U+2029 and
 * format characters as they are; here they are `\uNNNN` escapes, which are the same JSON value.
 */
export function terminalJson(value: unknown): string {
  const escapeUnits = (char: string): string =>
    Array.from(
      { length: char.length },
      (_, index) => `\\u${char.charCodeAt(index).toString(16).padStart(4, '0')}`,
    ).join('');
  return JSON.stringify(value, null, 2).replace(INVISIBLE, escapeUnits);
}

/**
 * For GitHub Markdown (a step summary, an issue), inline: a value shown as the text it is, in a
 * sentence, a list item, a heading or a table cell. Line breaks become spaces (a value never
 * starts a line of its own), control characters are shown escaped, and every character that can
 * start markup there is backslash-escaped: `\` `` ` `` `*` `~` `[` `]` `|` `$` always, `_` but
 * inside a word (where it never emphasises), `!` before `[`, `<` before what opens a tag, a
 * comment or an autolink (a letter, `/`, `!`, `?`), `&` before what makes an entity. So no link,
 * image, HTML (`<!--` included), code span, emphasis, math or table cell comes of it; without an
 * unescaped `[` no link or image opens, so `(` and `)` stay as they are, and `a < b`, `x > y` and
 * `R & D` read as written. A leading `#`, `>`, `-`, `+`, `=` or `1.` that would open a heading, a
 * quote, a list or a rule is escaped (`-0.5` and `#12` are left alone). Autolinks are broken by
 * escaping the `:` of `://` and the `.` of `www.`.
 *
 * Mentions: GitHub finds `@name` and `#123` in the rendered text, after Markdown's escapes are
 * gone, so a backslash does not stop a mention from notifying a team. A zero-width joiner after
 * `@` (and after `#` before a digit) does: the text reads the same, and no one is notified and no
 * issue is cross-referenced. A code span would stop them too, but would show every value as code
 * and cannot sit inside another code span.
 */
export function forMarkdown(text: string): string {
  return showInvisible(text.replace(/\r\n|\r|\n/g, ' '))
    .replace(/[\\`*~[\]|$]|!(?=\[)|<(?=[A-Za-z/!?])|&(?=[#A-Za-z0-9])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '\\$&')
    .replace(
      /^(\s*)(?:([-+=#>])(?=\s|$|\2)|(\d{1,9})(?=[.)](?:\s|$)))/,
      (_match, space: string, marker?: string, digits?: string) =>
        digits ? `${space}${digits}\\` : `${space}\\${marker}`,
    )
    .replace(/:(?=\/\/)/g, '\\:')
    .replace(/\b(www)\./gi, '$1\\.')
    .replace(/@(?=[A-Za-z0-9])/g, '@\u200d')
    .replace(/#(?=\d)/g, '#\u200d');
}

/**
 * Markdown this code wrote around values it made inert (a code span, a link to the run): a table
 * passes it through as it is, and escapes a plain string cell with `forMarkdown`.
 */
export class Markdown {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/**
 * A value as inline code (a host label, a command to run), for a table cell too: a fence longer
 * than any run of backticks inside, line breaks flattened, `|` escaped (GitHub splits table cells
 * on it even inside code). Nothing renders inside a code span: no link, no HTML, no mention.
 */
export function markdownCode(text: string): Markdown {
  const flat = showInvisible(text.replace(/\r\n|\r|\n/g, ' ')).replaceAll('|', '\\|');
  const fence = '`'.repeat(Math.max(0, ...[...flat.matchAll(/`+/g)].map((match) => match[0].length)) + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return new Markdown(`${fence}${pad}${flat}${pad}${fence}`);
}

/**
 * A link this code chose to show (the run, the incident): only to an `https:` (or `http:`) URL,
 * written whole and percent-encoded where Markdown would end the destination; anything else is
 * shown as inert text. The label is text.
 */
export function markdownLink(label: string, url: string): Markdown {
  let href: string;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return new Markdown(forMarkdown(url));
    href = parsed.href.replace(
      /[()<>\s`|]/g,
      (char) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
    );
  } catch {
    return new Markdown(forMarkdown(url));
  }
  return new Markdown(`[${forMarkdown(label)}](${href})`);
}

/** A table cell: a plain string is text (made inert by `forMarkdown`), a `Markdown` piece is this code's own. */
export type Cell = string | Markdown;
const cell = (value: Cell): string => (value instanceof Markdown ? value.text : forMarkdown(value));

export function table(header: string[], rows: readonly (readonly Cell[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}

/** A host label in a table: as code, so that `user@host` is neither a mention nor an e-mail link. */
export const hostCell = (label: string): Markdown => markdownCode(label);

/** Text from hosts and tools, shown as it is: a fence longer than any run of backticks inside it. */
export function codeBlock(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${showInvisible(text.replace(/\r\n|\r/g, '\n')).trimEnd()}\n${fence}`;
}

/**
 * For Slack's mrkdwn: `&`, `<` and `>` as entities, so text from hosts and errors never opens a
 * link (`<https://…|…>`) or a mention (`<!channel>`, `<@U123>`); Slack reads the rest as text.
 */
export function forSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
