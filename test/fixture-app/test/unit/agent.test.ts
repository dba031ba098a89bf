import { describe, expect, it } from 'vitest';
import { parseRunRequest, planSteps } from '../../src/agent';

describe('parseRunRequest', () => {
  it('takes a task with the default budget', () => {
    expect(parseRunRequest({ task: 'Say hello.' })).toEqual({ task: 'Say hello.', maxSteps: 8 });
  });

  it('refuses what is not a task', () => {
    expect(parseRunRequest(null)).toEqual({ error: 'the body is not a JSON object' });
    expect(parseRunRequest({ task: ' ' })).toEqual({ error: 'task must be a non-empty string' });
    expect(parseRunRequest({ task: 'x', maxSteps: 0 })).toEqual({
      error: 'maxSteps must be a whole number from 1 to 64',
    });
    expect(parseRunRequest({ task: 'x', maxSteps: 3 })).toEqual({ task: 'x', maxSteps: 3 });
  });
});

describe('planSteps', () => {
  it('makes one step a sentence, within the budget', () => {
    expect(planSteps({ task: 'Read the issue. Fix it! Test it?', maxSteps: 2 })).toEqual(['Read the issue', 'Fix it']);
  });
});
