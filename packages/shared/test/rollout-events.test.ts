import { describe, expect, it } from 'vitest';
import { rolloutEvents } from '../src/report';

/** Where each rollout event goes: an annotation, or a plain log line when the step's outcome says it. */
describe('rollout events', () => {
  function sink(logOnly?: Parameters<typeof rolloutEvents>[0]['logOnly']) {
    const said: string[] = [];
    const annotate = {
      notice: (text: string) => said.push(`notice: ${text}`),
      warning: (text: string) => said.push(`warning: ${text}`),
      error: (text: string) => said.push(`error: ${text}`),
    };
    const send = rolloutEvents({
      app: 'shop',
      environment: 'production',
      annotate,
      warn: (text) => said.push(`warn: ${text}`),
      ...(logOnly ? { logOnly } : {}),
    });
    return { said, send };
  }
  const failed = [
    { kind: 'halted', message: 'v2 halted (failure): error-rate: canary 20% errors over 50 requests > 1%' },
    { kind: 'rolled-back', message: 'rolled back to v1: all traffic back 0.4 s after the decision' },
  ] as const;

  it('annotates every event by its level', async () => {
    const { said, send } = sink();
    for (const event of failed) await send(event);
    expect(said).toEqual([
      'error: shop: v2 halted (failure): error-rate: canary 20% errors over 50 requests > 1%',
      'warning: shop: rolled back to v1: all traffic back 0.4 s after the decision',
    ]);
  });

  it('logs the kinds the step says itself as plain lines, so a reason is one annotation, not three', async () => {
    const { said, send } = sink({ kinds: ['halted', 'rolled-back'], log: (text) => said.push(`log: ${text}`) });
    for (const event of failed) await send(event);
    await send({ kind: 'weight-advanced', message: 'v2 weight advanced to 25% (step 2 of 4) on 2 hosts' });
    expect(said).toEqual([
      'log: shop: v2 halted (failure): error-rate: canary 20% errors over 50 requests > 1%',
      'log: shop: rolled back to v1: all traffic back 0.4 s after the decision',
      'notice: shop: v2 weight advanced to 25% (step 2 of 4) on 2 hosts',
    ]);
  });
});
