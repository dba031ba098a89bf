/**
 * Parses Mermaid blocks with the Mermaid library itself, as GitHub renders them: a block it cannot
 * parse shows as a red error box in a step summary. Mermaid needs a DOM, given by jsdom.
 */
import type { Mermaid } from 'mermaid';

let loaded: Promise<Mermaid> | undefined;

function mermaid(): Promise<Mermaid> {
  loaded ??= (async () => {
    // jsdom ships no types; only its constructor and window are used.
    const jsdom = 'jsdom';
    const { JSDOM } = (await import(jsdom)) as { JSDOM: new (html: string) => { window: { document: unknown } } };
    const dom = new JSDOM('<!doctype html><html><body></body></html>');
    const scope = globalThis as unknown as Record<string, unknown>;
    scope.window ??= dom.window;
    scope.document ??= dom.window.document;
    const imported = (await import('mermaid')).default;
    imported.initialize({ startOnLoad: false });
    return imported;
  })();
  return loaded;
}

/** The Mermaid blocks of a Markdown text. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);
}

/** Parses every Mermaid block of a Markdown text; throws, naming the block, on the first that does not parse. Returns the diagram types. */
export async function parseMermaid(markdown: string): Promise<string[]> {
  const blocks = mermaidBlocks(markdown);
  if (blocks.length === 0) return [];
  const library = await mermaid();
  const types: string[] = [];
  for (const block of blocks) {
    try {
      const parsed = await library.parse(block);
      types.push(parsed ? parsed.diagramType : 'unknown');
    } catch (error) {
      throw new Error(`a Mermaid block GitHub could not render: ${(error as Error).message}\n--- block ---\n${block}`);
    }
  }
  return types;
}
