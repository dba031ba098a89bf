import { Document, isMap, isNode, isPair, isScalar, visit } from 'yaml';
import type { PolicyDefaults, SprtDocument } from './policy-document';
import type { SprtSettings } from './policy-types';

/**
 * The defaults: the deployment procedure, as a policy document. The one place they are written:
 * `resolvePolicy` takes every value a policy leaves out from here, DEFAULT_POLICY_YAML is printed
 * from it, and a test holds what action.yml and the README say to it. A gate's window is the
 * policy's duration unless given.
 */
export const DEFAULT_POLICY: PolicyDefaults = {
  duration: 300,
  interval: 5,
  'min-requests': 50,
  'on-inconclusive': 'extend',
  'max-extensions': 1,
  'on-undecided': 'pass',
  'max-source-errors': 3,
  'early-decision': true,
  // Tuned by simulation (`npm run bench:analysis -- --tune`, canary at 10 % of 500 requests per
  // minute; the reasons are at the top of bench/analysis.ts): a 20 %-error canary fails in a median
  // 20 s, and healthy canaries (0.5 % errors) are failed in about 0.1 % of runs.
  sprt: {
    alpha: 0.01,
    'end-alpha': 0.015,
    'extension-alpha': 0.005,
    beta: 0.01,
    'error-multiplier': 10,
    'latency-multiplier': 4,
    'min-failures': 3,
  },
  rules: [
    { name: 'error-rate', metric: 'error_rate', max: 0.01, kind: 'gate' },
    { name: 'latency-p95', metric: 'p95_ms', max: 2000, kind: 'gate' },
    { name: 'error-rate-sustained', metric: 'error_rate', max: 0.01, window: 30, for: 120, kind: 'trigger' },
    { name: 'latency-p95-sustained', metric: 'p95_ms', max: 5000, window: 30, for: 60, kind: 'trigger' },
    { name: 'health-checks', metric: 'health_failures_in_row', max: 3, kind: 'trigger' },
    { name: 'memory', metric: 'memory_ratio', max: 0.95, for: 60, kind: 'trigger' },
    { name: 'model-drift', metric: 'drift_score', max: 0.1, for: 300, kind: 'trigger', 'models-only': true },
  ],
};

/** The sequential test's settings: those given, the defaults' for the rest. */
export function sprtSettings(given: SprtDocument = {}): SprtSettings {
  const defaults = DEFAULT_POLICY.sprt;
  return {
    alpha: given.alpha ?? defaults.alpha,
    endAlpha: given['end-alpha'] ?? defaults['end-alpha'],
    extensionAlpha: given['extension-alpha'] ?? defaults['extension-alpha'],
    beta: given.beta ?? defaults.beta,
    errorMultiplier: given['error-multiplier'] ?? defaults['error-multiplier'],
    latencyMultiplier: given['latency-multiplier'] ?? defaults['latency-multiplier'],
    minFailures: given['min-failures'] ?? defaults['min-failures'],
  };
}

/** The default policy's sequential-test settings. */
export const DEFAULT_SPRT: SprtSettings = sprtSettings();

/** What a default means, printed in DEFAULT_POLICY_YAML: beside a value, or above a mapping or list. Keys are dotted paths. */
const DEFAULT_POLICY_NOTES: Readonly<Record<string, string>> = {
  duration: 'seconds of canary analysis; the window of the gates',
  interval: 'seconds between samples',
  'min-requests': 'canary requests needed to judge the gates at the end',
  'on-inconclusive': 'extend | fail | pass (pass = success with a warning)',
  'max-extensions': 'how many times extend adds another duration',
  'on-undecided':
    'after the extensions, a gate above its limit without significance: pass (with a warning) | inconclusive | fail',
  'max-source-errors': 'consecutive failed samples before the verdict is error',
  'early-decision': 'the sequential test may fail a clearly bad canary before the window ends',
  'sprt.alpha': 'chance that the early test fails a canary exactly at the limit',
  'sprt.end-alpha': 'level of the test at the end of the window',
  'sprt.extension-alpha': 'level of the same test at the end of an extension',
  'sprt.beta': 'chance that the early test misses a canary at the alternative rate',
  'sprt.error-multiplier': 'alternative error rate = limit x this',
  'sprt.latency-multiplier': 'alternative share of slow requests = (1 - quantile) x this',
  'sprt.min-failures': 'errors (or slow requests) before an early failure',
  rules:
    'Rules named like a default change only the fields they give; other names add rules.\nreplace-default-rules: true drops the defaults.',
};

/** DEFAULT_POLICY as YAML, each value with its note, each rule on one line. */
function defaultPolicyYaml(): string {
  const document = new Document(DEFAULT_POLICY);
  if (isMap(document.contents))
    document.contents.commentBefore = ' Canary analysis policy (defaults = the deployment procedure).';
  visit(document, {
    Pair(_, pair, ancestors) {
      const key = [...ancestors.filter(isPair), pair]
        .map((each) => String(isScalar(each.key) ? each.key.value : each.key))
        .join('.');
      const note = DEFAULT_POLICY_NOTES[key];
      if (note === undefined || !isNode(pair.value) || !isNode(pair.key)) return;
      const comment = note.replace(/^/gm, ' ');
      if (isScalar(pair.value)) pair.value.comment = comment;
      else pair.key.commentBefore = comment;
    },
    Seq(_, seq) {
      for (const item of seq.items) if (isMap(item)) item.flow = true;
    },
  });
  return document.toString({ lineWidth: 0 });
}

export const DEFAULT_POLICY_YAML = defaultPolicyYaml();
