import { CanaryAnalysis, emptyColorSample, parsePolicy, latencyBucket, type Sample } from './packages/shared/src/analysis/index';
function sample(k: number, c: { requests: number; errors: number; slow?: number; memory?: number }, interval = 5): Sample {
  const green = emptyColorSample(); green.requests = c.requests; green.errors = c.errors;
  green.latency[latencyBucket(100)] = c.requests - (c.slow ?? 0); green.latency[latencyBucket(3000)] = c.slow ?? 0;
  if (c.memory !== undefined) green.memoryRatio = c.memory;
  const blue = emptyColorSample(); blue.requests = 40; blue.latency[latencyBucket(100)] = 40;
  return { start: k * interval * 1000, end: (k + 1) * interval * 1000, colors: { green, blue } };
}
function run(policyText: unknown, gen: (k: number) => Parameters<typeof sample>[1]) {
  const a = new CanaryAnalysis(parsePolicy(policyText), { canary: 'green', stable: 'blue', start: 0 });
  for (let k = 0; k < 200; k++) { const r = a.add(sample(k, gen(k))); if (r) { console.log(r.verdict, '|', r.reason, '|', r.detectSeconds, r.elapsedSeconds, r.warnings); return r; } }
}
run('', () => ({ requests: 5, errors: 1 }));
run('', () => ({ requests: 5, errors: 0, slow: 1 }));
run('', () => ({ requests: 5, errors: 0 }));
run({ 'early-decision': false }, (k) => ({ requests: 5, errors: k % 10 === 0 ? 1 : 0 }));
run({ 'early-decision': false }, (k) => ({ requests: 5, errors: k % 4 === 0 ? 1 : 0 }));
run('', () => ({ requests: 0, errors: 0 }));
run({ 'on-inconclusive': 'fail' }, () => ({ requests: 0, errors: 0 }));
run({ 'on-inconclusive': 'pass' }, () => ({ requests: 0, errors: 0 }));
run('', (k) => ({ requests: 5, errors: 0, memory: k > 10 ? 0.97 : 0.5 }));
const r = run('', (k) => ({ requests: 5, errors: 0 }));
console.log(JSON.stringify(r?.rules, null, 1).slice(0, 3000));
