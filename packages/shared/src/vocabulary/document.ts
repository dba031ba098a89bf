import { z } from 'zod';
import { show } from '../action';

/**
 * The one way a document a user writes (a YAML policy, a list of rules) is checked: builders for
 * its fields, each of which says what it expected and what it got, mappings that refuse an unknown
 * key by listing the known ones, and one way to say where a problem is
 * (`rules[2].metric: expected one of …, got 'latency'`). Every problem is reported, not the first.
 */

/** A value checked by `accept`; the message says what was expected (`form`) and what was given. */
function leaf<T>(form: string, accept: (value: unknown) => value is T) {
  return z.unknown().transform((value, ctx): T => {
    if (accept(value)) return value;
    ctx.addIssue({ code: 'custom', message: `expected ${form}, got ${show(value)}` });
    return z.NEVER;
  });
}

interface NumberOptions {
  min?: number;
  max?: number;
  above?: number;
  below?: number;
  integer?: boolean;
  unit?: string;
}

/** A finite number within bounds: `a number from 1 to 3600 (seconds)`, `a number of at least 0`, `a whole number above 0`. */
function number(options: NumberOptions = {}) {
  const bounds: string[] = [];
  if (options.min !== undefined && options.max !== undefined) bounds.push(`from ${options.min} to ${options.max}`);
  else {
    if (options.min !== undefined) bounds.push(`at least ${options.min}`);
    if (options.above !== undefined) bounds.push(`above ${options.above}`);
    if (options.below !== undefined) bounds.push(`below ${options.below}`);
    if (options.max !== undefined) bounds.push(`at most ${options.max}`);
  }
  const range = bounds.join(' and ');
  const form = [
    options.integer ? 'a whole number' : 'a number',
    range.startsWith('at ') ? `of ${range}` : range,
    options.unit ? `(${options.unit})` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return leaf(form, (value): value is number => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return false;
    if (options.integer && !Number.isInteger(value)) return false;
    if (options.min !== undefined && value < options.min) return false;
    if (options.max !== undefined && value > options.max) return false;
    if (options.above !== undefined && value <= options.above) return false;
    if (options.below !== undefined && value >= options.below) return false;
    return true;
  });
}

/** One of `choices`; `form` words them (`one of a, b, c` unless given). */
function choice<const T extends readonly string[]>(choices: T, form = `one of ${choices.join(', ')}`) {
  return leaf(form, (value): value is T[number] => typeof value === 'string' && choices.includes(value));
}

const boolean = leaf('true or false', (value): value is boolean => typeof value === 'boolean');

/** A text that matches `pattern`, of at most `maxLength` characters. */
function text(form: string, pattern: RegExp, maxLength = Infinity) {
  return leaf(
    form,
    (value): value is string => typeof value === 'string' && value.length <= maxLength && pattern.test(value),
  );
}

/** A mapping with exactly these keys (each optional unless its field says otherwise); `form` is what a value that is no mapping is told. */
function mapping<const Shape extends z.ZodRawShape>(shape: Shape, form = 'a mapping') {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys')
        return `unknown key ${issue.keys.map((key) => `'${key}'`).join(', ')}; expected ${known}`;
      if (issue.code === 'invalid_type') return `expected ${form}, got ${show(issue.input)}`;
      return undefined;
    },
  });
}

/** A mapping another program writes (a later version may add keys): the keys of `shape` are checked, the others left out. */
function openMapping<const Shape extends z.ZodRawShape>(shape: Shape, form = 'a mapping') {
  return z.object(shape, {
    error: (issue) => (issue.code === 'invalid_type' ? `expected ${form}, got ${show(issue.input)}` : undefined),
  });
}

/** A list of `min` (0 unless given) to `max` items; `noun` counts them in the message (`at most 200 rules, got 201`). */
function list<const Item extends z.ZodType>(
  item: Item,
  options: { min?: number; max: number; noun?: string; form?: string },
) {
  const form = options.form ?? 'a list';
  const count = (input: unknown) => (Array.isArray(input) ? input.length : 'more');
  return z
    .array(item, {
      error: (issue) => (issue.code === 'invalid_type' ? `expected ${form}, got ${show(issue.input)}` : undefined),
    })
    .min(options.min ?? 0, {
      error: (issue) =>
        Array.isArray(issue.input) && issue.input.length === 0
          ? `expected ${form}, got an empty list`
          : `at least ${options.min} ${options.noun ?? 'items'}, got ${count(issue.input)}`,
    })
    .max(options.max, {
      error: (issue) => `at most ${options.max} ${options.noun ?? 'items'}, got ${count(issue.input)}`,
    });
}

/** The builders of a document's fields: `docField.mapping({ duration: docField.number({ min: 10 }).optional() })`. */
export const docField = { leaf, number, choice, boolean, text, mapping, openMapping, list };

/**
 * What a document's places are called. `root`: the document itself (`policy`; none leaves a problem
 * of the whole document unprefixed). `items`: the items of a document that is a list (`rules`, so
 * that zod's [2, 'metric'] reads `rules[2].metric`).
 */
export interface DocumentNames {
  root?: string;
  items?: string;
}

/** `rules[2].metric` from zod's ['rules', 2, 'metric']. */
export function documentPath(path: ReadonlyArray<PropertyKey>, names: DocumentNames = {}): string {
  let where = '';
  for (const part of path) {
    if (typeof part === 'number') where += `${where === '' ? (names.items ?? '') : ''}[${part}]`;
    else where += `${where === '' ? '' : '.'}${String(part)}`;
  }
  return where === '' ? (names.root ?? '') : where;
}

/** One problem, with where it is: `sprt.alpha: expected a number above 0 and at most 0.5, got 0`. */
export function describeIssue(issue: z.core.$ZodIssue, names: DocumentNames = {}): string {
  const where = documentPath(issue.path, names);
  return where === '' ? issue.message : `${where}: ${issue.message}`;
}

/** Every problem of a document that failed its schema, in order. */
export function documentProblems(error: z.ZodError, names: DocumentNames = {}): string[] {
  return error.issues.map((issue) => describeIssue(issue, names));
}
