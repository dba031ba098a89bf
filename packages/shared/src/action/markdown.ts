/** Markdown pieces every summary uses (pure, no dependencies: every bundle may carry them). */

/** Text from hosts and tools, shown as it is: a fence longer than any run of backticks inside it. */
export function codeBlock(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${text.replace(/\r\n|\r/g, '\n').trimEnd()}\n${fence}`;
}

/** A host label in a table: as code, so that `user@host` is not turned into an e-mail link. */
export const hostCell = (label: string): string => `\`${label.replaceAll('`', "'")}\``;
