// blue-green's smoke-requests and deploy-staging's smoke-checks take one vocabulary: the same
// document reads the same in both, old spelling included.
import { describe, expect, it } from 'vitest';
import { deployPhaseInputs, readInputs } from '@agent-loop/shared/inputs';
import { readSettings as readStagingSettings } from '../actions/deploy-staging/src/main';

const DOCUMENT = `- name: run-agent
  method: POST
  path: /run-agent
  body: {"instruction": "Hello test", "use_ollama": true}
  status: 200
  contains: result
  json: true
  repeat: 3
  p95-ms: 1500
- name: metrics
  path: /metrics
  prometheus: true
- path: /health
  max-latency-ms: 800`;

const blueGreen = (yaml: string) =>
  readInputs({ 'smoke-requests': deployPhaseInputs['smoke-requests'] }, (name) =>
    name === 'smoke-requests' ? yaml : '',
  )['smoke-requests'];
const staging = (yaml: string) =>
  readStagingSettings(
    (name) => ({ method: 'none', 'base-url': 'http://127.0.0.1:8080', 'smoke-checks': yaml })[name] ?? '',
  ).inputs['smoke-checks'];

describe('one smoke vocabulary for smoke-requests and smoke-checks', () => {
  it('reads the same document the same way in both inputs', () => {
    const checks = blueGreen(DOCUMENT);
    expect(staging(DOCUMENT)).toEqual(checks);
    expect(checks.map((check) => [check.name, check.method, check['p95-ms'], check.repeat])).toEqual([
      ['run-agent', 'POST', 1500, 3],
      ['metrics', 'GET', undefined, undefined],
      [undefined, 'GET', 800, undefined],
    ]);
  });

  it('refuses the same mistakes in both, with the same message', () => {
    for (const bad of [
      '- path: /x\n  p95-ms: 1\n  max-latency-ms: 2',
      '- path: /x\n  shell: id',
      '- path: /x\n- path: /x',
    ]) {
      const messages = [() => blueGreen(bad), () => staging(bad)].map((read) => {
        try {
          read();
        } catch (error) {
          return (error as Error).message.replace(/^Input '[a-z-]+': /, '');
        }
        return 'accepted';
      });
      expect(messages[0]).not.toBe('accepted');
      expect(messages[1]).toBe(messages[0]);
    }
  });
});
