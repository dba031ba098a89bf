import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { EOL } from 'node:os';

/**
 * The runner's side of a step: inputs from `INPUT_<NAME>`, workflow commands on stdout
 * (`::warning::…`), and the files the runner reads after the step (GITHUB_OUTPUT, GITHUB_STATE,
 * GITHUB_STEP_SUMMARY). Written as the toolkit's @actions/core writes them (same escaping, same
 * heredoc delimiter), without the toolkit itself: its one import pulls an HTTP client (undici,
 * 770 KB) into every bundle for an OIDC token no action asks for.
 */

/** `%`, CR and LF escaped, as the runner decodes a command's message. */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** `%`, CR, LF, `:` and `,` escaped, as the runner decodes a command's property (the toolkit's escapeProperty). */
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** A workflow command, `::name::message`. */
function command(name: string, message: string): void {
  process.stdout.write(`::${name}::${escapeData(message)}${EOL}`);
}

/** `NAME<<ghadelimiter_<uuid>` … `ghadelimiter_<uuid>`, appended to the file the runner names in GITHUB_<KIND>. */
function fileCommand(kind: 'OUTPUT' | 'STATE', name: string, value: string): boolean {
  const file = process.env[`GITHUB_${kind}`];
  if (!file) return false;
  if (!existsSync(file)) throw new Error(`Missing file at path: ${file}`);
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (name.includes(delimiter) || value.includes(delimiter))
    throw new Error(`Unexpected input: the ${kind.toLowerCase()} ${name} contains the delimiter`);
  appendFileSync(file, `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`, 'utf8');
  return true;
}

export const runner = {
  /** An input as the runner passes it: `INPUT_<NAME>` (spaces as `_`, upper-cased, hyphens kept), trimmed. */
  getInput: (name: string): string => (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim(),
  setOutput(name: string, value: string): void {
    if (fileCommand('OUTPUT', name, value)) return;
    process.stdout.write(EOL);
    process.stdout.write(`::set-output name=${escapeProperty(name)}::${escapeData(value)}${EOL}`);
  },
  /** For the post step: saved in GITHUB_STATE, read back as `STATE_<name>`. */
  saveState(name: string, value: string): void {
    if (!fileCommand('STATE', name, value)) command(`save-state name=${name}`, value);
  },
  getState: (name: string): string => process.env[`STATE_${name}`] ?? '',
  /** Masked in every later log line. */
  setSecret: (secret: string): void => command('add-mask', secret),
  info: (message: string): void => void process.stdout.write(`${message}${EOL}`),
  debug: (message: string): void => command('debug', message),
  notice: (message: string): void => command('notice', message),
  warning: (message: string): void => command('warning', message),
  error: (message: string): void => command('error', message),
  async group<T>(title: string, body: () => Promise<T>): Promise<T> {
    command('group', title);
    try {
      return await body();
    } finally {
      command('endgroup', '');
    }
  },
  /** An error annotation, and the step's exit code 1. */
  setFailed(message: string): void {
    process.exitCode = 1;
    command('error', message);
  },
  /** Appends Markdown to the step's summary (GITHUB_STEP_SUMMARY); nothing without one. */
  async appendSummary(markdown: string): Promise<void> {
    const file = process.env.GITHUB_STEP_SUMMARY;
    if (!file) return;
    await appendFile(file, `${markdown}${EOL}`, 'utf8');
  },
};
