import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { ConfigurationError, show } from '../action';

/**
 * Metrics reports: JSON objects, flat or nested, read from the workspace (`readMetricsFile`, the
 * one place that reads a report) and looked up by a metric's dotted path (pure).
 */

/**
 * Parses a metrics report. Python's `json.dump` writes bare NaN and Infinity, which JSON does not
 * allow: those tokens (outside strings) are read as the strings "NaN", "Infinity", "-Infinity",
 * so the metric is reported as not a number instead of the whole file being refused.
 */
export function parseMetricsJson(source: string): unknown {
  try {
    return JSON.parse(source);
  } catch (error) {
    const rewritten = quoteNonFinite(source);
    if (rewritten === source) throw error;
    try {
      return JSON.parse(rewritten);
    } catch {
      throw error;
    }
  }
}

function quoteNonFinite(source: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i] as string;
    if (inString) {
      out += char;
      if (char === '\\') out += source[++i] ?? '';
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') {
      inString = true;
      out += char;
      continue;
    }
    const token = ['-Infinity', 'Infinity', 'NaN'].find(
      (word) => source.startsWith(word, i) && !/[A-Za-z0-9_]/.test(source[i + word.length] ?? ''),
    );
    if (token && !/[A-Za-z0-9_]/.test(source[i - 1] ?? '')) {
      out += `"${token}"`;
      i += token.length - 1;
      continue;
    }
    out += char;
  }
  return out;
}

type Lookup = { kind: 'number'; value: number } | { kind: 'missing' } | { kind: 'invalid'; what: string };

/** The value at a dotted path. An exact key wins over a nested path, so `{"eval.accuracy": 0.9}` and `{"eval": {"accuracy": 0.9}}` both work. Own keys only. */
export function lookupMetric(report: unknown, path: string): Lookup {
  const found = find(report, path);
  if (found === undefined) return { kind: 'missing' };
  if (typeof found === 'number' && Number.isFinite(found)) return { kind: 'number', value: found };
  if (found === 'NaN' || found === 'Infinity' || found === '-Infinity') return { kind: 'invalid', what: found };
  return { kind: 'invalid', what: found === null ? 'null' : show(found) };
}

function find(value: unknown, path: string): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  if (Object.hasOwn(record, path)) return record[path];
  for (let dot = path.indexOf('.'); dot > 0; dot = path.indexOf('.', dot + 1)) {
    const head = path.slice(0, dot);
    if (!Object.hasOwn(record, head)) continue;
    const inner = find(record[head], path.slice(dot + 1));
    if (inner !== undefined) return inner;
  }
  return undefined;
}

/** A path relative to the workspace, without `..` segments. */
export const WORKSPACE_PATH = /^(?![/~])(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/+@-]+$/;
const MAX_REPORT_BYTES = 10 * 1024 * 1024;

/** Reads a metrics report (a JSON object) from the workspace; a link that leads outside it is refused. Errors name the input. */
export function readMetricsFile(workspace: string, path: string, input: string): Record<string, unknown> {
  const fail = (message: string): never => {
    throw new ConfigurationError(`Input '${input}': ${message}`);
  };
  let real: string;
  try {
    real = realpathSync(join(workspace, path));
  } catch {
    return fail(
      `no file at ${path} in the workspace; expected the path of a JSON metrics report relative to the workspace`,
    );
  }
  const inside = relative(realpathSync(workspace), real);
  if (inside === '' || inside === '..' || inside.startsWith('../') || isAbsolute(inside))
    return fail(`${path} leads outside the workspace; expected a file in the workspace`);
  const stat = statSync(real);
  if (!stat.isFile()) return fail(`${path} is not a file; expected a JSON metrics report`);
  if (stat.size > MAX_REPORT_BYTES) return fail(`${path} is ${stat.size} bytes; at most ${MAX_REPORT_BYTES} are read`);
  let document: unknown;
  try {
    document = parseMetricsJson(readFileSync(real, 'utf8'));
  } catch (error) {
    return fail(
      `${path} is not valid JSON (${(error as Error).message.split('\n')[0]}); expected a JSON object of metrics`,
    );
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    return fail(`${path} holds ${show(document)}; expected a JSON object of metrics such as {"accuracy": 0.93}`);
  return document as Record<string, unknown>;
}
