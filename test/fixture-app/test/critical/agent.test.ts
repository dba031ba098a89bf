import { expect, it } from 'vitest';
import { parseRunRequest } from '../../src/agent';

// The hotfix track runs only these: what must hold for /run-agent to serve at all.
it('accepts a plain task', () => {
  expect(parseRunRequest({ task: 'Summarise the incident.' })).toMatchObject({ maxSteps: 8 });
});
