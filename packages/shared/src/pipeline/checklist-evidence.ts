import { show } from '../action';
import { DEPLOYMENT_ID, VERSION } from '../vocabulary';
import { PLAN_KINDS } from './plan-options';

/**
 * The evidence the deployment procedure's checklists are ticked from (pure): the reusable
 * workflow's `needs` context, each job's result and outputs.
 *
 * Every value read from the context is checked against what its job declares (a job result, a
 * percentage, a verdict, a version, a deployment id, an issue on this GitHub server): outputs are
 * text another step wrote, and a value of any other form leaves its item open, saying what was
 * expected, instead of ticking it or landing in the summary as Markdown.
 */

/** One job of the `needs` context, as `toJSON(needs)` gives it. */
export interface NeededJob {
  result?: string;
  outputs?: Record<string, string>;
}

export type Needs = Record<string, NeededJob | undefined>;

export type ItemState = 'done' | 'not-done' | 'person' | 'not-applicable';

export interface ChecklistItem {
  list: 'Pre-deployment' | 'Deployment' | 'Post-deployment' | 'When something goes wrong';
  item: string;
  state: ItemState;
  /** The evidence (the job and what it showed), or why the item is not ticked. */
  because: string;
  /** A checked URL the evidence links to (the incident issue). */
  link?: string;
}

/** What a job's result may be in the `needs` context. */
const JOB_RESULTS = ['success', 'failure', 'cancelled', 'skipped'];

/** The form each output the checklist reads is declared with. */
export interface Form {
  form: string;
  test: (value: string) => boolean;
}
const oneOf = (values: readonly string[]): Form => ({
  form: values.join(', ').replace(/, ([^,]*)$/, ' or $1'),
  test: (value) => values.includes(value),
});
export const FORMS = {
  percent: {
    form: 'a whole percentage from 0 to 100',
    test: (value) => /^\d{1,3}$/.test(value) && Number(value) <= 100,
  },
  verdict: oneOf(['success', 'failure', 'inconclusive', 'error', 'aborted']),
  flag: oneOf(['true', 'false']),
  outcome: oneOf(JOB_RESULTS),
  kind: oneOf(PLAN_KINDS),
  version: { form: 'a version label', test: (value) => VERSION.test(value) },
  deploymentId: { form: 'a GitHub deployment id', test: (value) => DEPLOYMENT_ID.test(value) },
  milliseconds: { form: 'a whole number of milliseconds', test: (value) => /^\d{1,12}$/.test(value) },
  /** A reason is free text: shown, never trusted (the summary renders it inert). */
  text: { form: 'one sentence', test: (value) => value.length <= 500 },
} satisfies Record<string, Form>;

/** An output as read: absent (empty), a value of its declared form, or a problem naming both. */
export interface Read {
  value: string;
  problem: string | null;
}

/** An issue on the GitHub server: https://github.com/OWNER/REPO/issues/N and nothing more. */
export function issueForm(serverUrl: string): Form {
  let server: URL | null = null;
  try {
    server = new URL(serverUrl);
  } catch {
    server = null;
  }
  return {
    form: `an issue URL on ${server ? server.origin : 'the GitHub server'}`,
    test: (value) => {
      try {
        const url = new URL(value);
        return (
          server !== null &&
          url.origin === server.origin &&
          url.username === '' &&
          url.password === '' &&
          url.search === '' &&
          url.hash === '' &&
          /^\/[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}\/issues\/\d{1,12}$/.test(url.pathname) &&
          url.href === value
        );
      } catch {
        return false;
      }
    },
  };
}

const job = (needs: Needs, name: string): NeededJob => needs[name] ?? {};
const rawOutput = (needs: Needs, name: string, key: string): string => job(needs, name).outputs?.[key] ?? '';

export function read(needs: Needs, name: string, key: string, form: Form): Read {
  const value = rawOutput(needs, name, key);
  if (value === '' || form.test(value)) return { value, problem: null };
  return { value: '', problem: `the ${name} job's ${key} output is not ${form.form}: ${show(value, 80)}` };
}

/** The first non-empty output among jobs (the promote and its rollbacks may run in jobs of their own). */
export function readAny(needs: Needs, names: readonly string[], key: string, form: Form): Read {
  const name = names.find((candidate) => rawOutput(needs, candidate, key) !== '');
  return name === undefined ? { value: '', problem: null } : read(needs, name, key, form);
}

export const resultRead = (needs: Needs, name: string): Read => {
  const result = job(needs, name).result;
  if (result === undefined || JOB_RESULTS.includes(result)) return { value: result ?? '', problem: null };
  return { value: '', problem: `the ${name} job's result is not ${FORMS.outcome.form}: ${show(result, 80)}` };
};
export const passed = (needs: Needs, name: string): boolean => resultRead(needs, name).value === 'success';
export const resultOf = (needs: Needs, name: string): string => {
  const result = resultRead(needs, name);
  return result.problem ?? (result.value || 'not run');
};

/** The gates the plan ran: names only (a gate's name is a word). */
export function gatesRun(needs: Needs): string[] {
  try {
    const gates = JSON.parse(rawOutput(needs, 'plan', 'gates') || '[]') as unknown;
    return Array.isArray(gates)
      ? gates.filter((gate): gate is string => typeof gate === 'string' && /^[a-z0-9-]{1,40}$/.test(gate))
      : [];
  } catch {
    return [];
  }
}

/** The canary's error rate as canary-monitor judged it (its `rules` output): a ratio from 0 to 1, or null. */
export function canaryErrorRate(needs: Needs): number | null {
  try {
    const rules = JSON.parse(rawOutput(needs, 'production', 'rules') || '[]') as Array<{
      metric?: string;
      observed?: number | null;
    }>;
    const rule = Array.isArray(rules)
      ? rules.find((candidate) => candidate?.metric === 'error_rate' && typeof candidate.observed === 'number')
      : undefined;
    const observed = rule?.observed;
    return typeof observed === 'number' && Number.isFinite(observed) && observed >= 0 && observed <= 1
      ? observed
      : null;
  } catch {
    return null;
  }
}

/** Ticks an item only when it is proved and every value it read has its declared form; otherwise it stays open, saying why. */
export function tick(ok: boolean, done: string, notDone: string, ...reads: Read[]): [ItemState, string] {
  const problems = reads.map((value) => value.problem).filter((problem): problem is string => problem !== null);
  if (problems.length > 0) return ['not-done', problems.join('; ')];
  return ok ? ['done', done] : ['not-done', notDone];
}
