import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runtimeInputs } from '@agent-loop/shared/inputs';
import { COMMANDS, hostFields, type Command, type Field } from './commands';
import { EXIT_MEANINGS } from './exit-codes';
import { envName, FILE_INPUTS, type OptionKind } from './options';

/**
 * The help, made from the commands' field definitions (the actions' own zod fields): every option a
 * command reads, with its environment variable and the default its field gives an empty value, so
 * the help cannot list an option the command does not read, or a default it does not use. The
 * words come from the action.yml that documents each input (its inputs are tested against the
 * same fields), read from the repository the command runs from.
 */

const ACTIONS = ['blue-green', 'rollback', 'canary-monitor'] as const;
/** An action's inputs' descriptions, by input name. */
type Descriptions = (action: string) => Record<string, string>;

/** Options only the command line has. */
const CLI_OPTIONS: Record<string, { placeholder: string; note: string; description: string }> = {
  'ssh-private-key-file': {
    placeholder: 'PATH',
    note: 'required, or the key itself in AGENT_LOOP_SSH_PRIVATE_KEY',
    description: 'File holding the private key (PEM or OpenSSH) that logs in to every host. Never printed.',
  },
  'ssh-known-hosts-file': {
    placeholder: 'PATH',
    note: 'required unless --insecure-skip-host-key-check, or the lines themselves with --ssh-known-hosts',
    description:
      'File of known_hosts lines for every host (e.g. the checked output of ssh-keyscan). An unknown or changed host key is refused.',
  },
  json: {
    placeholder: '',
    note: '',
    description: 'Print the result as JSON on stdout; progress is left out, warnings still go to stderr.',
  },
  help: { placeholder: '', note: '', description: 'Print this help (also -h).' },
};

/**
 * The inputs' words from each action.yml. The build writes them beside the bundle
 * (cli/dist/action-inputs.json, checked by check-dist), so --help parses no YAML; run from the
 * sources, the action.yml files are read (cli/src is two levels below the repository, as cli/dist is).
 */
function readDescriptions(): Descriptions {
  const here = dirname(realpathSync(process.argv[1] ?? '.'));
  let shipped: Record<string, Record<string, string>> | null = null;
  try {
    shipped = JSON.parse(readFileSync(join(here, 'action-inputs.json'), 'utf8')) as Record<
      string,
      Record<string, string>
    >;
  } catch {
    shipped = null;
  }
  const read = (action: string): Record<string, string> => {
    try {
      const inputs = shipped
        ? (shipped[action] ?? {})
        : Object.fromEntries(
            Object.entries(
              (
                parseYaml(readFileSync(join(here, '..', '..', 'actions', action, 'action.yml'), 'utf8')) as {
                  inputs?: Record<string, { description?: string }>;
                }
              ).inputs ?? {},
            ).map(([name, input]) => [name, input.description ?? '']),
          );
      // The command line is the nginx method: the rollback action's "Method nginx:" goes without saying.
      return Object.fromEntries(
        Object.entries(inputs).map(([name, description]) => [name, description.replace(/^Method nginx: /, '')]),
      );
    } catch {
      return {};
    }
  };
  const cache = new Map<string, Record<string, string>>();
  return (action) => {
    if (!cache.has(action)) cache.set(action, read(action));
    return cache.get(action) ?? {};
  };
}

/** Every option a command takes, with how it is written. */
export function commandOptions(command: Command): Map<string, OptionKind> {
  const options = new Map<string, OptionKind>();
  for (const [name, field] of Object.entries(command.fields))
    options.set(name, typeof defaultValue(field) === 'boolean' ? 'boolean' : 'value');
  for (const name of FILE_INPUTS) options.set(`${name}-file`, 'value');
  options.set('json', 'switch');
  options.set('help', 'switch');
  return options;
}

/** What a field gives for an empty value: its default, or `required` when it refuses one. */
function defaultValue(field: Field): unknown {
  const parsed = field.safeParse('');
  return parsed.success ? parsed.data : REQUIRED;
}

const REQUIRED = Symbol('required');

/** A default as one would write it back: lists comma-separated, documents as JSON (also YAML). */
export function formatDefault(value: unknown): string {
  if (Array.isArray(value) && value.every((item) => item === null || typeof item !== 'object')) return value.join(',');
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The part of an option's line in parentheses: its variable, then required or its default. */
export function optionNote(command: Command, name: string): string {
  const cli = CLI_OPTIONS[name];
  if (cli) return cli.note ? `${envName(name)}; ${cli.note}` : '';
  const field = command.fields[name] as Field;
  const value = defaultValue(field);
  const required = value === REQUIRED || (command.required as Record<string, string> | undefined)?.[name] !== undefined;
  if (required) return `${envName(name)}; required`;
  const empty = value === '' || value === null || value === undefined || (Array.isArray(value) && value.length === 0);
  return `${envName(name)}${empty ? '' : `; default: ${formatDefault(value)}`}`;
}

function placeholder(command: Command, name: string): string {
  const cli = CLI_OPTIONS[name];
  if (cli) return cli.placeholder;
  const value = defaultValue(command.fields[name] as Field);
  return typeof value === 'boolean' ? '[true|false]' : typeof value === 'number' ? 'N' : 'VALUE';
}

function describe(command: Command, name: string, descriptions: Descriptions): string {
  const own = (command.descriptions as Record<string, string> | undefined)?.[name];
  if (own) return own;
  for (const action of [command.action, ...ACTIONS]) {
    const text = descriptions(action)[name];
    if (text) return text;
  }
  return CLI_OPTIONS[name]?.description ?? '';
}

/** Words wrapped to `width` columns, each line after `indent`. */
function wrap(text: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

const EXIT_LINES = [
  'exit codes:',
  ...EXIT_MEANINGS.flatMap(([code, meaning]) =>
    wrap(meaning, '      ').map((line, index) => (index === 0 ? `  ${code}   ${line.trimStart()}` : line)),
  ),
];

/** `agent-loop <command> --help`. */
export function commandHelp(command: Command): string {
  const descriptions = readDescriptions();
  const names = [...commandOptions(command).keys()];
  const isHost = (name: string) => name in hostFields || name.endsWith('-file');
  const isRuntime = (name: string) => name in runtimeInputs;
  const sections: Array<[string, string[]]> = [
    [`options of ${command.name}`, names.filter((name) => !isHost(name) && !isRuntime(name) && !(name in CLI_OPTIONS))],
    ['how a color is started and checked (the runtime)', names.filter(isRuntime)],
    ['hosts and SSH', names.filter(isHost)],
    ['output', names.filter((name) => name === 'json' || name === 'help')],
  ];
  const lines = [
    ...wrap(`agent-loop ${command.name}: ${command.summary}.`, ''),
    '',
    `usage: agent-loop ${command.usage}`,
    '',
    ...wrap(
      'Each option can also be given in the environment variable named beside it; a flag wins over the variable.',
      '',
    ),
  ];
  for (const [title, members] of sections) {
    if (members.length === 0) continue;
    lines.push('', `${title}:`);
    for (const name of members) {
      const note = optionNote(command, name);
      const value = placeholder(command, name);
      lines.push(
        `  --${name}${value ? ` ${value}` : ''}${note ? `  (${note})` : ''}`,
        ...wrap(describe(command, name, descriptions), '      '),
      );
    }
  }
  lines.push('', 'example:', `  ${command.example}`, '', ...EXIT_LINES);
  return `${lines.join('\n')}\n`;
}

/** `agent-loop help`, `agent-loop --help`. */
export function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const lines = [
    ...wrap(
      "agent-loop: the actions' deploy, promote, rollback and canary analysis from a terminal, with the same inputs, " +
        'checks, locks, state and audit log, for when GitHub Actions is slow or down.',
      '',
    ),
    '',
    'usage: agent-loop <command> [options]',
    '       agent-loop <command> --help    every option of a command, with its environment variable and default',
    '',
    'commands:',
    ...COMMANDS.flatMap((command) =>
      wrap(command.summary, ' '.repeat(width + 4)).map((line, index) =>
        index === 0 ? `  ${command.name.padEnd(width)}  ${line.trimStart()}` : line,
      ),
    ),
    '',
    ...wrap(
      'Every option can also be given in the environment: --ssh-private-key-file PATH is ' +
        'AGENT_LOOP_SSH_PRIVATE_KEY_FILE=PATH (upper case, hyphens as underscores); a flag wins over the variable.',
      '',
    ),
    '',
    'example:',
    `  ${COMMANDS[0]!.example}`,
    '',
    ...EXIT_LINES,
  ];
  return `${lines.join('\n')}\n`;
}
