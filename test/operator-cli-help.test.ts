import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  deployPhaseInputs,
  hostInputs,
  monitorPhaseInputs,
  rollbackRuntimeInputs,
  runtimeInputs,
} from '@agent-loop/shared/inputs';
import { COMMANDS, type Command } from '../cli/src/commands';
import { EXIT_MEANINGS } from '../cli/src/exit-codes';

/**
 * The operator's command line before any host: its help, made from the actions' own field
 * definitions, and its usage errors. Every check spawns bin/agent-loop (the committed bundle), or
 * what CLI_UNDER_TEST names.
 */

const root = join(import.meta.dirname, '..');
/**
 * bin/agent-loop runs the bundle in cli/dist (made by npm run build). CLI_UNDER_TEST names another
 * entry, to try a change of cli/src before that build: a .ts file (cli/src/index.ts) runs through
 * tsx, any other file with node (e.g. cli/src bundled by esbuild under node_modules/.cache).
 */
const under = process.env.CLI_UNDER_TEST;
const [cli, ...cliArgs] = !under
  ? [join(root, 'bin', 'agent-loop')]
  : under.endsWith('.ts')
    ? [join(root, 'node_modules', '.bin', 'tsx'), under]
    : [process.execPath, under];
const run = promisify(execFile);

async function agentLoop(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cli!, [...cliArgs, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? '',
    };
  }
}

const envName = (name: string): string => `AGENT_LOOP_${name.toUpperCase().replace(/-/g, '_')}`;

/** What the help must say a field defaults to: what the field itself gives for an empty value. */
function expectedNote(command: Command, name: string): string {
  const parsed = command.fields[name]!.safeParse('');
  if (!parsed.success || (command.required as Record<string, string> | undefined)?.[name])
    return `${envName(name)}; required`;
  const value = parsed.data;
  if (value === '' || value === null || value === undefined || (Array.isArray(value) && value.length === 0))
    return envName(name);
  const shown =
    Array.isArray(value) && value.every((item) => typeof item !== 'object')
      ? value.join(',')
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
  return `${envName(name)}; default: ${shown}`;
}

/** The help's options: each `  --name …` line, with the description lines under it. */
function helpOptions(text: string): Map<string, { line: string; description: string }> {
  const options = new Map<string, { line: string; description: string }>();
  let current: { line: string; description: string } | null = null;
  for (const line of text.split('\n')) {
    const option = /^ {2}--([a-z0-9-]+)/.exec(line);
    if (option) {
      current = { line, description: '' };
      options.set(option[1]!, current);
    } else if (current && line.startsWith('      '))
      current.description = `${current.description} ${line.trim()}`.trim();
    else current = null;
  }
  return options;
}

const actionInputs = (action: string): Record<string, { description: string }> =>
  (
    parseYaml(readFileSync(join(root, 'actions', action, 'action.yml'), 'utf8')) as {
      inputs: Record<string, { description: string }>;
    }
  ).inputs;

describe('agent-loop help', () => {
  it('help, --help and -h print the commands, an example and the exit codes, and exit 0', async () => {
    const [help, long, short] = await Promise.all([agentLoop(['help']), agentLoop(['--help']), agentLoop(['-h'])]);
    for (const result of [help, long, short]) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(help.stdout);
    }
    expect(help.stdout).toMatch(/^usage: agent-loop <command> \[options\]$/m);
    for (const command of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^ {2}${command.name} +\\S`, 'm'));
    expect(help.stdout).toMatch(/^example:\n {2}agent-loop status --hosts /m);
    for (const [code] of EXIT_MEANINGS) expect(help.stdout).toMatch(new RegExp(`^ {2}${code} {3}\\S`, 'm'));
  });

  it.each(COMMANDS.map((command) => [command.name, command] as const))(
    '%s --help lists every field it reads, with its variable and the default its field gives, in its action.yml words',
    async (name, command) => {
      const [result, viaHelp] = await Promise.all([agentLoop([name, '--help']), agentLoop(['help', name])]);
      expect(result.code, result.stderr).toBe(0);
      expect(viaHelp.stdout).toBe(result.stdout);
      expect(result.stdout).toContain(`usage: agent-loop ${command.usage}`);
      expect(result.stdout).toMatch(/^example:\n {2}agent-loop \S+ /m);
      const options = helpOptions(result.stdout);
      // Exactly the fields the command reads, and the command line's own options.
      expect([...options.keys()].sort()).toEqual(
        [...Object.keys(command.fields), 'ssh-private-key-file', 'ssh-known-hosts-file', 'json', 'help'].sort(),
      );
      for (const field of Object.keys(command.fields)) {
        expect(options.get(field)!.line, field).toContain(`(${expectedNote(command, field)})`);
        expect(options.get(field)!.description, `${name} --${field} has words`).toMatch(/\w{3,}/);
      }
      expect(options.get('ssh-private-key-file')!.line).toContain('AGENT_LOOP_SSH_PRIVATE_KEY_FILE; required');
    },
  );

  it("reads the actions' own field definitions: the same objects, so a new input or a new default reaches the help", () => {
    const { 'ssh-private-key': _key, 'slack-webhook-url': _webhook, ...hostFields } = hostInputs;
    for (const command of COMMANDS)
      for (const [name, field] of Object.entries(hostFields))
        expect(command.fields[name], `${command.name} ${name}`).toBe(field);
    const byName = new Map(COMMANDS.map((command) => [command.name, command]));
    for (const [name, field] of Object.entries(deployPhaseInputs))
      expect(byName.get('deploy')!.fields[name]).toBe(field);
    for (const [name, field] of Object.entries(monitorPhaseInputs))
      expect(byName.get('monitor')!.fields[name]).toBe(field);
    // A rollback's runtime is as recorded unless named: the same fields, with rollback's own runtime field.
    for (const [name, field] of Object.entries(rollbackRuntimeInputs))
      expect(byName.get('rollback')!.fields[name], `rollback ${name}`).toBe(field);
    expect(rollbackRuntimeInputs.runtime).not.toBe(runtimeInputs.runtime);
  });

  it('describes an input in the words of the action.yml that documents it', async () => {
    const deploy = helpOptions((await agentLoop(['deploy', '--help'])).stdout);
    expect(deploy.get('canary-percent')!.description).toBe(
      actionInputs('blue-green')['canary-percent']!.description.replace(/\s+/g, ' '),
    );
    const monitor = helpOptions((await agentLoop(['monitor', '--help'])).stdout);
    expect(monitor.get('rollback-on')!.description).toBe(
      actionInputs('canary-monitor')['rollback-on']!.description.replace(/\s+/g, ' '),
    );
    expect(monitor.get('steps')!.line).toContain('(AGENT_LOOP_STEPS; default: 10,25,50,100)');
  });

  it('prints the help whatever else is on the line', async () => {
    const result = await agentLoop(['status', '--hosts', 'x', '-h']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('usage: agent-loop status');
  });
});

describe('agent-loop usage errors (exit 2, before any host)', () => {
  const env = { AGENT_LOOP_HOSTS: 'deploy@127.0.0.1:1', AGENT_LOOP_APP: 'shop' };

  it('names an unknown option as unknown, with the closest known one, instead of taking the next word as its value', async () => {
    const json = await agentLoop(['status', '--jsn'], env);
    expect(json.code).toBe(2);
    expect(json.stderr).toBe(
      'agent-loop: unknown option --jsn for status; did you mean --json?\nagent-loop status --help lists every option\n',
    );
    expect(json.stderr).not.toContain('needs a value');
    const percent = await agentLoop(['deploy', '--canary-percnt', '5'], env);
    expect(percent.code).toBe(2);
    expect(percent.stderr).toContain('unknown option --canary-percnt for deploy; did you mean --canary-percent?');
    // An option of another command is unknown to this one.
    const other = await agentLoop(['status', '--image', 'x'], env);
    expect(other.stderr).toContain('unknown option --image for status');
    const command = await agentLoop(['stauts'], env);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(
      /^agent-loop: unknown command "stauts"; did you mean status\? \(commands: status, deploy, .*\)\nagent-loop --help lists the commands\n$/,
    );
  });

  it('takes a boolean option alone as true, and asks for the value an option needs', async () => {
    const bare = await agentLoop(['promote', '--keep-previous', '--drain-seconds', '0'], { AGENT_LOOP_APP: 'shop' });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("Input 'hosts': is required");
    const missing = await agentLoop(['promote', '--drain-seconds', '--keep-previous'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      'agent-loop: --drain-seconds needs a value\nagent-loop promote --help lists every option\n',
    );
  });

  it('names the option of a file that cannot be read', async () => {
    const flag = await agentLoop(['status', '--ssh-private-key-file', '/nonexistent'], env);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe(
      'agent-loop: --ssh-private-key-file: cannot read "/nonexistent": no such file\nagent-loop status --help lists every option\n',
    );
    const variable = await agentLoop(['status'], {
      ...env,
      AGENT_LOOP_SSH_KNOWN_HOSTS_FILE: '/nonexistent/known_hosts',
    });
    expect(variable.code).toBe(2);
    expect(variable.stderr).toContain(
      'agent-loop: AGENT_LOOP_SSH_KNOWN_HOSTS_FILE: cannot read "/nonexistent/known_hosts": no such file',
    );
    const folder = await agentLoop(['status', '--ssh-known-hosts-file', root], env);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain(`--ssh-known-hosts-file: cannot read ${JSON.stringify(root)}: it is a directory`);
    for (const result of [flag, variable, folder]) expect(result.stderr).not.toMatch(/ENOENT|EISDIR|at \w+ \(/);
  });

  it('warns about an AGENT_LOOP_ variable no command reads', async () => {
    const result = await agentLoop(['status'], { AGENT_LOOP_HOTS: 'deploy@h', AGENT_LOOP_APP: 'shop' });
    expect(result.stderr).toContain(
      'warning: AGENT_LOOP_HOTS is set, but no command reads it; did you mean AGENT_LOOP_HOSTS?',
    );
    expect(result.code).toBe(2);
  });
});

describe('docs/operations.md', () => {
  it("lists the command line's exit codes as the help does", async () => {
    const readme = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
    const table = readme.slice(readme.indexOf('| exit code | meaning |'));
    const lines = table.split('\n').slice(2);
    const rows = lines
      .slice(
        0,
        lines.findIndex((line) => !line.startsWith('|')),
      )
      .map((line) =>
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
    expect(rows).toEqual(EXIT_MEANINGS.map(([code, meaning]) => [String(code), meaning]));
    const help = (await agentLoop(['--help'])).stdout.replace(/\s+/g, ' ');
    for (const [code, meaning] of EXIT_MEANINGS) expect(help).toContain(`${code} ${meaning}`);
  });
});
