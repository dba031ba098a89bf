/**
 * A small, faithful model of how GitHub's runner finds workflow commands in a step's output,
 * ported from actions/runner (src/Runner.Common/ActionCommand.cs, TryParseV2 and TryParse;
 * src/Runner.Worker/ActionCommandManager.cs, TryProcessCommand and its registered commands;
 * src/Runner.Sdk/ProcessInvoker.cs, StreamReader.ReadLine), read at commit 258d6c85 (2026-08-17).
 *
 * - Output is read line by line with .NET's ReadLine: LF, CR and CRLF each end a line.
 * - A line is tried as `::name props::data` (TryParseV2) after `TrimStart()`, which strips every
 *   character .NET's Char.IsWhiteSpace holds; then as the old `##[name props]data` (TryParse),
 *   found anywhere in the line.
 * - A command runs when its name is registered (compared ignoring case).
 *
 * `StartsWith(string)` and `IndexOf(string)` in that code compare with the current culture: on
 * Linux runners that is ICU, which skips "ignorable" characters (controls, format characters, most
 * combining marks). `culture: 'icu'` models that, with Node's own ICU deciding what is ignorable;
 * `culture: 'ordinal'` is the plain reading. A safe output parses as no command under either.
 */

/** The commands the runner registers (internal-set-repo-path only for its own plugins). */
export const REGISTERED_COMMANDS = [
  'stop-commands',
  'set-env',
  'set-output',
  'save-state',
  'add-mask',
  'add-path',
  'add-matcher',
  'remove-matcher',
  'debug',
  'warning',
  'error',
  'notice',
  'group',
  'endgroup',
  'echo',
];

export interface ParsedCommand {
  syntax: '::' | '##[';
  command: string;
  properties: Record<string, string>;
  data: string;
}

export type Culture = 'ordinal' | 'icu';

/** .NET's Char.IsWhiteSpace (Latin-1: tab to CR, space, U+0085, U+00A0; above: Unicode White_Space). */
export function isDotNetWhiteSpace(char: string): boolean {
  return /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/.test(char);
}

/** .NET's String.TrimStart(). */
function trimStart(text: string): string {
  let index = 0;
  while (index < text.length && isDotNetWhiteSpace(text[index]!)) index++;
  return text.slice(index);
}

/** .NET's StreamReader.ReadLine, over a whole output: LF, CR and CRLF end a line. */
export function readLines(output: string): string[] {
  const lines = output.split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

const collator = new Intl.Collator('en', { sensitivity: 'variant' });
const ignorableCache = new Map<string, boolean>();
/** A character ICU gives no weight at any level: a culture-aware comparison skips it. */
export function isIcuIgnorable(char: string): boolean {
  let ignorable = ignorableCache.get(char);
  if (ignorable === undefined) {
    ignorable = collator.compare(`a${char}b`, 'ab') === 0;
    ignorableCache.set(char, ignorable);
  }
  return ignorable;
}

/** Whether `pattern` (no ignorable characters in it) is found at `start`; the index after the match, or -1. */
function matchAt(text: string, pattern: string, start: number, culture: Culture): number {
  let position = start;
  for (const expected of pattern) {
    while (culture === 'icu' && position < text.length && isIcuIgnorable(text[position]!)) position++;
    if (text[position] !== expected) return -1;
    position++;
  }
  return position;
}

function startsWith(text: string, pattern: string, culture: Culture): boolean {
  return matchAt(text, pattern, 0, culture) >= 0;
}

/** The first match at or after `start`; under ICU, a match is reported at its first character that is not ignorable. */
function indexOf(text: string, pattern: string, start: number, culture: Culture): number {
  for (let index = start; index < text.length; index++) {
    if (culture === 'icu' && isIcuIgnorable(text[index]!)) continue;
    if (matchAt(text, pattern, index, culture) >= 0) return index;
  }
  return -1;
}

const unescape = (text: string, mappings: Array<[string, string]>): string =>
  mappings.reduce((value, [token, replacement]) => value.replaceAll(replacement, token), text);
const ESCAPE: Array<[string, string]> = [
  [';', '%3B'],
  ['\r', '%0D'],
  ['\n', '%0A'],
  [']', '%5D'],
  ['%', '%25'],
];
const ESCAPE_DATA: Array<[string, string]> = [
  ['\r', '%0D'],
  ['\n', '%0A'],
  ['%', '%25'],
];
const ESCAPE_PROPERTY: Array<[string, string]> = [
  ['\r', '%0D'],
  ['\n', '%0A'],
  [':', '%3A'],
  [',', '%2C'],
  ['%', '%25'],
];

function properties(text: string, separator: string, mappings: Array<[string, string]>): Record<string, string> {
  const found: Record<string, string> = {};
  for (const property of text.split(separator).filter((part) => part !== '')) {
    const equals = property.indexOf('=');
    const pair =
      equals < 0 ? [property] : [property.slice(0, equals), property.slice(equals + 1)].filter((part) => part !== '');
    if (pair.length === 2) found[pair[0]!] = unescape(pair[1]!, mappings);
  }
  return found;
}

const registered = (name: string, commands: readonly string[]): boolean =>
  commands.some((command) => command.toLowerCase() === name.toLowerCase());

/** ActionCommand.TryParseV2: `::name props::data` at the start of the line, after TrimStart. */
export function tryParseV2(
  line: string,
  culture: Culture = 'ordinal',
  commands: readonly string[] = REGISTERED_COMMANDS,
): ParsedCommand | null {
  if (line === '') return null;
  const message = trimStart(line);
  if (!startsWith(message, '::', culture)) return null;
  const endIndex = indexOf(message, '::', 2, culture);
  if (endIndex < 0) return null;
  const info = message.slice(2, endIndex);
  const space = info.indexOf(' ');
  const name = space < 0 ? info : info.slice(0, space);
  if (!registered(name, commands)) return null;
  return {
    syntax: '::',
    command: name,
    properties: space > 0 ? properties(info.slice(space + 1).trim(), ',', ESCAPE_PROPERTY) : {},
    data: unescape(message.slice(endIndex + 2), ESCAPE_DATA),
  };
}

/** ActionCommand.TryParse: `##[name props]data` anywhere in the line. */
export function tryParse(
  line: string,
  culture: Culture = 'ordinal',
  commands: readonly string[] = REGISTERED_COMMANDS,
): ParsedCommand | null {
  if (line === '') return null;
  const prefixIndex = indexOf(line, '##[', 0, culture);
  if (prefixIndex < 0) return null;
  const rbIndex = line.indexOf(']', prefixIndex);
  if (rbIndex < 0) return null;
  const info = line.slice(prefixIndex + 3, rbIndex);
  const space = info.indexOf(' ');
  const name = space < 0 ? info : info.slice(0, space);
  if (!registered(name, commands)) return null;
  return {
    syntax: '##[',
    command: name,
    properties: space > 0 ? properties(info.slice(space + 1), ';', ESCAPE) : {},
    data: unescape(line.slice(rbIndex + 1), ESCAPE),
  };
}

/** ActionCommandManager.TryProcessCommand's parse: V2 first, then the old syntax. */
export function parseCommand(
  line: string,
  culture: Culture = 'ordinal',
  commands: readonly string[] = REGISTERED_COMMANDS,
): ParsedCommand | null {
  return tryParseV2(line, culture, commands) ?? tryParse(line, culture, commands);
}

/** Every command the runner would run from an output, under either culture. */
export function commandsIn(output: string): Array<ParsedCommand & { line: string; culture: Culture }> {
  return readLines(output).flatMap((line) =>
    (['ordinal', 'icu'] as const).flatMap((culture) => {
      const parsed = parseCommand(line, culture);
      return parsed ? [{ ...parsed, line, culture }] : [];
    }),
  );
}
