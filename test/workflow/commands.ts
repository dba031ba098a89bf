// Workflow commands a step prints (`::name k=v,k=v::data`, and the older `##[name k=v;k=v]data`),
// read as the runner's ActionCommand.cs reads them, and the command files a step writes.
import { readFileSync } from 'node:fs';
import { parseCommandFile } from '../lab/run-action';
import type { Annotation } from './types';

export interface CommandHandler {
  mask(value: string): void;
  annotate(annotation: Omit<Annotation, 'job'>): void;
  /** The deprecated `set-output` and `save-state`, which the runner still honours. */
  output(name: string, value: string): void;
  state(name: string, value: string): void;
  /** A command the runner refuses: the step fails with this message. */
  fail(message: string): void;
}

interface Command {
  name: string;
  properties: Record<string, string>;
  data: string;
}

// .NET's String.TrimStart() strips every Unicode white space, some of which JS's \s misses.
const LEADING_SPACE = /^[\s\u0085\u180e\u2028\u2029]+/;

const DISABLED = (name: string) =>
  `The \`${name}\` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the ` +
  '`ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`. For more information see: ' +
  'https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/';

function unescapeData(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

function unescapeProperty(text: string): string {
  return unescapeData(text).replace(/%3A/g, ':').replace(/%2C/g, ',');
}

function properties(text: string, separator: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const pair of text.split(separator)) {
    const eq = pair.indexOf('=');
    if (eq > 0) found[pair.slice(0, eq)] = unescapeProperty(pair.slice(eq + 1));
  }
  return found;
}

/** `::name props::data` at the start of the line (after white space). */
function parseV2(line: string): Command | undefined {
  const text = line.replace(LEADING_SPACE, '');
  if (!text.startsWith('::')) return undefined;
  const end = text.indexOf('::', 2);
  if (end < 0) return undefined;
  const head = text.slice(2, end);
  const space = head.indexOf(' ');
  const name = space < 0 ? head : head.slice(0, space);
  if (name === '') return undefined;
  return {
    name,
    properties: space < 0 ? {} : properties(head.slice(space + 1), ','),
    data: unescapeData(text.slice(end + 2)),
  };
}

/** `##[name props]data` anywhere in the line. */
function parseV1(line: string): Command | undefined {
  const match = /##\[([^\]\s;]+)(?: ([^\]]*))?\](.*)$/.exec(line);
  if (!match) return undefined;
  return { name: match[1]!, properties: properties(match[2] ?? '', ';'), data: unescapeData(match[3] ?? '') };
}

const LEVELS = { error: 'error', warning: 'warning', notice: 'notice' } as const;

/** Reads one step's output lines; returns what the log shows for each line (undefined: nothing). */
export class CommandReader {
  private stopToken: string | undefined;

  constructor(private readonly handler: CommandHandler) {}

  line(line: string): string | undefined {
    const command = parseV2(line) ?? parseV1(line);
    if (!command) return line;
    if (this.stopToken !== undefined) {
      if (command.name === this.stopToken) this.stopToken = undefined;
      return this.stopToken === undefined ? undefined : line;
    }
    return this.apply(command, line);
  }

  private apply(command: Command, line: string): string | undefined {
    const { name, properties: props, data } = command;
    switch (name) {
      case 'add-mask':
        this.handler.mask(data);
        return undefined;
      case 'error':
      case 'warning':
      case 'notice':
        this.handler.annotate(annotation(LEVELS[name], data, props));
        return `##[${name}]${data}`;
      case 'group':
        return `##[group]${data}`;
      case 'endgroup':
        return '##[endgroup]';
      case 'debug':
        // Shown only with step debug logging (ACTIONS_STEP_DEBUG), which this runner leaves off.
        return undefined;
      case 'stop-commands':
        this.stopToken = data;
        return undefined;
      case 'set-output':
        this.handler.output(props.name ?? '', data);
        return undefined;
      case 'save-state':
        this.handler.state(props.name ?? '', data);
        return undefined;
      case 'set-env':
      case 'add-path':
        this.handler.fail(DISABLED(name));
        return `##[error]${DISABLED(name)}`;
      case 'echo':
        return undefined;
      default:
        // The runner prints a line that is not a known command as it is.
        return line;
    }
  }
}

function annotation(
  level: Annotation['level'],
  message: string,
  props: Record<string, string>,
): Omit<Annotation, 'job'> {
  const number = (key: string) =>
    props[key] !== undefined && /^\d+$/.test(props[key]) ? Number(props[key]) : undefined;
  const found: Omit<Annotation, 'job'> = { level, message };
  if (props.title) found.title = props.title;
  if (props.file) found.file = props.file;
  const line = number('line');
  if (line !== undefined) found.line = line;
  const col = number('col');
  if (col !== undefined) found.col = col;
  const endLine = number('endLine');
  if (endLine !== undefined) found.endLine = endLine;
  const endColumn = number('endColumn');
  if (endColumn !== undefined) found.endColumn = endColumn;
  return found;
}

/** Names and values a command file holds (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_STATE). */
export function readCommandFile(file: string): Record<string, string> {
  return parseCommandFile(readText(file));
}

/** GITHUB_PATH: one folder a line. */
export function readPathFile(file: string): string[] {
  return readText(file)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
