import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../src/action';
import type { RuntimeRecord } from '../src/domain';
import { parseState } from '../src/hosts';
import {
  checkRollbackRuntimeInputs,
  readInputs,
  rollbackRuntimeInputs,
  runtimeInputs,
  runtimeRecord,
} from '../src/inputs';
import { runtimeFromRecord } from '../src/settings';

/**
 * The runtime a release records (issue 21): what a deploy writes, and how a rollback reads it back
 * from a host's state: as data, checked with the runtime inputs' own fields and the runtime's check.
 */

const START = 'al-start {app} {color} {port} {image} {version}';
const STOP = 'al-stop {app} {color}';
const release = { app: 'shop', color: 'green' as const, port: 8082, image: 'registry.example/shop:v2', version: 'v2' };

function recorded(values: Record<string, string>): RuntimeRecord {
  return runtimeRecord(readInputs(runtimeInputs, (name) => values[name] ?? ''));
}

describe('the runtime recorded with a release', () => {
  it('is what the deploy inputs name, and builds the same runtime back', () => {
    const record = recorded({ runtime: 'command', 'start-command': START, 'stop-command': STOP });
    expect(record).toEqual({
      name: 'command',
      options: {
        composeFile: 'docker-compose.yml',
        startCommand: START,
        stopCommand: STOP,
        healthTimeoutSeconds: 120,
        minFreeDiskMb: 0,
      },
    });
    const runtime = runtimeFromRecord(JSON.parse(JSON.stringify(record)) as RuntimeRecord);
    expect(runtime.kind).toBe('command');
    expect(runtime.stop(release)).toEqual(['sh', '-c', 'al-stop shop green']);
    expect(runtimeFromRecord(recorded({ runtime: 'compose', 'compose-file': '/srv/shop/compose.yml' })).kind).toBe(
      'compose',
    );
  });

  it('refuses a tampered record: a runtime not registered, an unknown option, options that fail their fields or the runtime check', () => {
    const good = recorded({ runtime: 'command', 'start-command': START, 'stop-command': STOP });
    const refused = (record: RuntimeRecord) => {
      try {
        runtimeFromRecord(record);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigurationError);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused({ ...good, name: 'systemd' })).toBe(
      "the recorded runtime is refused: name: expected one of compose, command, got 'systemd'",
    );
    expect(refused({ ...good, options: { ...good.options, shell: 'rm -rf /' } })).toBe(
      "the recorded runtime is refused: 'shell' is not an option of a runtime",
    );
    expect(refused({ ...good, options: { ...good.options, stopCommand: 'kill {secret}' } })).toMatch(
      /^the recorded runtime is refused: stop-command: unknown placeholder \{secret\}/,
    );
    expect(refused({ ...good, options: { ...good.options, stopCommand: "kill '{port}'" } })).toMatch(
      /^the recorded runtime is refused: stop-command: the placeholder \{port\} stands inside quotes/,
    );
    expect(refused({ ...good, options: { ...good.options, composeFile: '../../etc/$(id)' } })).toMatch(
      /^the recorded runtime is refused: compose-file: expected/,
    );
    expect(refused({ ...good, options: { ...good.options, healthTimeoutSeconds: -5 } })).toMatch(
      /^the recorded runtime is refused: health-timeout-seconds: /,
    );
    expect(refused({ ...good, options: { ...good.options, stopCommand: '' } })).toMatch(
      /^the recorded runtime is refused: command: Input 'stop-command': is required when runtime is command/,
    );
  });

  it('is optional in a state file (older files stay readable), and one of the wrong shape makes the file unreadable', () => {
    const state = (runtime?: unknown) =>
      JSON.stringify({
        schema: 2,
        app: 'shop',
        active: 'green',
        colors: {},
        canary: null,
        releases: [
          {
            id: 'r-1',
            version: 'v2',
            image: 'registry.example/shop:v2',
            color: 'green',
            runId: 'run-1',
            deployedAt: '2026-05-01T10:00:00.000Z',
            status: 'live',
            servedAt: '2026-05-01T10:01:00.000Z',
            ...(runtime === undefined ? {} : { runtime }),
          },
        ],
        history: [],
        updatedAt: '2026-05-01T10:01:00.000Z',
      });
    const old = parseState(state(), 'shop');
    expect(old.ok && old.state.releases[0]?.runtime).toBeUndefined();
    const recordedState = parseState(
      state({ name: 'command', options: { startCommand: START, stopCommand: STOP } }),
      'shop',
    );
    expect(recordedState.ok && recordedState.state.releases[0]?.runtime).toEqual({
      name: 'command',
      options: { startCommand: START, stopCommand: STOP },
    });
    expect(parseState(state({ name: 'command', options: 'al-stop' }), 'shop')).toMatchObject({ ok: false });
    expect(parseState(state({ name: 'command', options: { stopCommand: ['a'] } }), 'shop')).toMatchObject({
      ok: false,
    });
  });
});

describe("a rollback's runtime inputs", () => {
  it('may name no runtime (as recorded); commands without a runtime are refused, not ignored', () => {
    const read = (values: Record<string, string>) => readInputs(rollbackRuntimeInputs, (name) => values[name] ?? '');
    expect(read({}).runtime).toBe('');
    expect(() => checkRollbackRuntimeInputs(read({}))).not.toThrow();
    expect(() => checkRollbackRuntimeInputs(read({ 'start-command': START }))).toThrow(
      "Input 'runtime': is required with start-command",
    );
    expect(() => checkRollbackRuntimeInputs(read({ runtime: 'command', 'start-command': START }))).toThrow(
      "Input 'stop-command'",
    );
    expect(() => read({ runtime: 'systemd' })).toThrow(/Input 'runtime'/);
  });
});
