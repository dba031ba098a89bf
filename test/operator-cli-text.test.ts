import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, type HostStatus } from '@agent-loop/shared';
import { startLab, type Lab } from './lab/index';
import { deploySettings, labHosts } from './support/deploy-settings';

/**
 * The operator's command line prints what hosts wrote: a lock's owner file is the host's text,
 * and a terminal runs escape sequences. A crafted owner.json on a lab host must reach the terminal
 * as visible, inert text (security finding 5).
 */

const run = promisify(execFile);
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
let lab: Lab;

async function agentLoop(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const knownHosts = join(lab.dir, 'operator_known_hosts');
  writeFileSync(knownHosts, lab.knownHosts);
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/root',
    AGENT_LOOP_HOSTS: lab.hostsInput,
    AGENT_LOOP_APP: lab.app,
    AGENT_LOOP_SSH_PRIVATE_KEY_FILE: lab.clientKeyPath,
    AGENT_LOOP_SSH_KNOWN_HOSTS_FILE: knownHosts,
  };
  try {
    const { stdout, stderr } = await run(cli!, [...cliArgs, ...args], { env, timeout: 60_000 });
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

beforeAll(async () => {
  lab = await startLab({ hosts: 1 });
  expect((await deploy(labHosts(lab), deploySettings(lab, 'v1'))).ok).toBe(true);
});

afterAll(async () => {
  await lab?.stop();
});

// Every C0 control but LF, DEL, every C1 control (U+009B is a one-byte CSI), the line separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\0-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]/;

describe('agent-loop status with a crafted lock owner on the host', () => {
  it('prints its fields as flags, escaped: no escape sequence reaches the terminal and no line is forged', async () => {
    const host = lab.hosts[0]!;
    const lockDir = join(host.stateDir, lab.app, 'lock');
    mkdirSync(lockDir, { recursive: true });
    writeFileSync(
      join(lockDir, 'owner.json'),
      JSON.stringify({
        token: 't',
        runId: 'run-1',
        actor: 'mallory',
        version: '\x1b[2K\rlock: free',
        phase: '\x1b]0;owned title\x07',
        time: '\x1b]52;c;Zm9v\x07\x9b31m',
        job: '::add-mask::x',
      }),
    );
    try {
      const text = await agentLoop(['status']);
      expect(text.code).toBe(0);
      expect(text.stdout).not.toMatch(CONTROL);
      const lines = text.stdout.trimEnd().split('\n');
      // The app line, then one line for what the host serves, one for its lock, one for rollbacks, one for releases.
      expect(lines).toHaveLength(5);
      expect(lines.filter((line) => /lock: /.test(line))).toHaveLength(1);
      expect(lines[2]).toMatch(
        new RegExp(
          /^ {2}lock: held by run run-1 \(mallory, \(not a known phase: '\\u001b\]0;owned title\\u0007'\) /.source +
            /of \(not a version label: '\\u001b\[2K\\rlock: free'\)\), alive \d+ s ago$/.source,
        ),
      );
      expect(lines.some((line) => /^\s*lock: free/.test(line))).toBe(false);

      const json = await agentLoop(['status', '--json']);
      expect(json.code).toBe(0);
      expect(json.stdout).not.toMatch(CONTROL);
      const { hosts } = JSON.parse(json.stdout) as { hosts: HostStatus[] };
      expect(hosts[0]?.lock).toMatchObject({
        runId: 'run-1',
        actor: 'mallory',
        phase: "(not a known phase: '\\u001b]0;owned title\\u0007')",
        since: "(not an ISO time: '\\u001b]52;c;Zm9v\\u0007\u009b31m')",
      });
    } finally {
      rmSync(lockDir, { recursive: true, force: true });
    }
  });
});
