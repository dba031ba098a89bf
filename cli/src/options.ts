import { readFileSync } from 'node:fs';
import { ConfigurationError } from '@agent-loop/shared/action';

/**
 * The command line's options: `--name value`, `--name=value`, or the environment variable
 * AGENT_LOOP_<NAME> (upper case, hyphens as underscores); a flag wins over the variable. Every
 * mistake is a usage error (exit 2) found before any host is contacted, and names the option.
 */

/** How an option is written: with a value, a boolean (`--keep-previous` alone means true), or a switch that takes none. */
export type OptionKind = 'value' | 'boolean' | 'switch';

export interface CommandLine {
  /** Options given as flags, by name (without the dashes). */
  flags: Map<string, string>;
  json: boolean;
  help: boolean;
}

/** The switches every command takes. */
export const SWITCHES = ['json', 'help'] as const;

/** Inputs that may be given as a file instead of as text: `--<name>-file PATH`. */
export const FILE_INPUTS = ['ssh-private-key', 'ssh-known-hosts'] as const;

const BOOLEAN_WORDS = /^(true|false|yes|no|on|off)$/i;

export const envName = (name: string): string => `AGENT_LOOP_${name.toUpperCase().replace(/-/g, '_')}`;

/** Reads the options after the command. `-h` is `--help`. */
export function parseOptions(
  args: readonly string[],
  options: ReadonlyMap<string, OptionKind>,
  command: string,
): CommandLine {
  const flags = new Map<string, string>();
  let json = false;
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      throw new ConfigurationError(`unexpected argument ${JSON.stringify(arg)}: options are written --name value`);
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const kind = options.get(name);
    if (!kind) throw unknownOption(name, [...options.keys()], command);
    if (kind === 'switch') {
      if (eq > 0) throw new ConfigurationError(`--${name} takes no value`);
      if (name === 'json') json = true;
      else help = true;
      continue;
    }
    if (eq > 0) {
      flags.set(name, arg.slice(eq + 1));
      continue;
    }
    const next = args[i + 1];
    if (kind === 'boolean' && (next === undefined || !BOOLEAN_WORDS.test(next))) {
      flags.set(name, 'true');
      continue;
    }
    if (next === undefined || next.startsWith('--')) {
      // A value that starts with -- is written --name=value.
      throw new ConfigurationError(`--${name} needs a value`);
    }
    flags.set(name, next);
    i++;
  }
  return { flags, json, help };
}

function unknownOption(name: string, known: readonly string[], command: string): ConfigurationError {
  const suggestion = closest(name, known);
  return new ConfigurationError(
    `unknown option --${name} for ${command}${suggestion ? `; did you mean --${suggestion}?` : ''}`,
  );
}

/** The known word nearest to `word` (edit distance, a shared prefix breaking ties), or null when none is near. */
export function closest(word: string, known: readonly string[]): string | null {
  let best: { name: string; distance: number } | null = null;
  for (const name of known) {
    const distance = editDistance(word, name) - (name.startsWith(word) || word.startsWith(name) ? 0.5 : 0);
    if (!best || distance < best.distance) best = { name, distance };
  }
  // Farther than half the word: no suggestion is better than a wrong one.
  return best && best.distance <= Math.max(2, word.length / 2) ? best.name : null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** An option's value: the flag, else its environment variable, else empty. */
export function optionValue(flags: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv, name: string): string {
  return flags.get(name) ?? env[envName(name)] ?? '';
}

/**
 * An input that may come from a file (`--<name>-file PATH` or AGENT_LOOP_<NAME>_FILE) or as text.
 * A file that cannot be read is a usage error naming the option it came from.
 */
export function fileOrText(
  flags: ReadonlyMap<string, string>,
  env: NodeJS.ProcessEnv,
  name: (typeof FILE_INPUTS)[number],
): string {
  const option = `${name}-file`;
  const path = flags.get(option) ?? env[envName(option)] ?? '';
  if (path === '') return optionValue(flags, env, name);
  const source = flags.has(option) ? `--${option}` : envName(option);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (code ?? (error as Error).message);
    throw new ConfigurationError(`${source}: cannot read ${JSON.stringify(path)}: ${why}`);
  }
}
