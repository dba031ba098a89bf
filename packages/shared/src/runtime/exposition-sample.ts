import { show } from '../action';

/**
 * One sample line of the Prometheus text exposition format: `name{labels} value [timestamp]`, its
 * value as Prometheus reads it, and the error every problem of an exposition is told with (the
 * whole text is read by exposition.ts).
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

export class ExpositionError extends Error {
  override name = 'ExpositionError';
  constructor(
    readonly line: number,
    problem: string,
  ) {
    super(line > 0 ? `line ${line}: ${problem}` : problem);
  }
}

const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A sample value as Go's ParseFloat reads it, limited to the forms exporters write. */
export function parseSampleValue(text: string): number | undefined {
  if (FLOAT.test(text)) return Number(text);
  if (/^[+]?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  return undefined;
}

/** Reads `name{labels} value [timestamp]` from one line. */
export function parseSampleLine(line: string, number: number): ExpositionSample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new ExpositionError(number, `expected a metric name, got ${show(line)}`);
  const name = nameMatch[0];
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    while (true) {
      while (line[at] === ' ' || line[at] === '\t') at++;
      if (line[at] === '}') {
        at++;
        break;
      }
      const labelMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(at));
      if (!labelMatch)
        throw new ExpositionError(
          number,
          `expected a label name or } in the labels of ${name}, got ${show(line.slice(at))}`,
        );
      const label = labelMatch[0];
      at += label.length;
      while (line[at] === ' ' || line[at] === '\t') at++;
      if (line[at] !== '=') throw new ExpositionError(number, `expected = after the label ${label} of ${name}`);
      at++;
      while (line[at] === ' ' || line[at] === '\t') at++;
      if (line[at] !== '"')
        throw new ExpositionError(number, `expected a quoted value for the label ${label} of ${name}`);
      at++;
      let value = '';
      while (true) {
        const char = line[at];
        if (char === undefined)
          throw new ExpositionError(number, `the value of the label ${label} of ${name} is not terminated by "`);
        at++;
        if (char === '"') break;
        if (char === '\\') {
          const escaped = line[at];
          at++;
          if (escaped === '\\') value += '\\';
          else if (escaped === '"') value += '"';
          else if (escaped === 'n') value += '\n';
          else
            throw new ExpositionError(
              number,
              `invalid escape \\${escaped ?? ''} in the label ${label} of ${name} (only \\\\, \\" and \\n are allowed)`,
            );
        } else {
          value += char;
        }
      }
      if (Object.hasOwn(labels, label))
        throw new ExpositionError(number, `the label ${label} appears twice in a sample of ${name}`);
      if (label.startsWith('__'))
        throw new ExpositionError(number, `the label name ${label} is reserved (starts with __)`);
      labels[label] = value;
      while (line[at] === ' ' || line[at] === '\t') at++;
      if (line[at] === ',') {
        at++;
        continue;
      }
      if (line[at] === '}') {
        at++;
        break;
      }
      throw new ExpositionError(
        number,
        `expected , or } after the label ${label} of ${name}, got ${show(line.slice(at))}`,
      );
    }
  }
  const rest = line.slice(at);
  if (rest !== '' && !/^[ \t]/.test(rest))
    throw new ExpositionError(number, `expected a space and a value after ${name}, got ${show(rest)}`);
  const fields = rest
    .trim()
    .split(/[ \t]+/)
    .filter(Boolean);
  if (fields.length === 0) throw new ExpositionError(number, `the sample ${name} has no value`);
  if (fields.length > 2)
    throw new ExpositionError(
      number,
      `the sample ${name} has ${fields.length} fields after its name; expected a value and an optional timestamp`,
    );
  const value = parseSampleValue(fields[0] as string);
  if (value === undefined)
    throw new ExpositionError(number, `the value of ${name} is not a number: ${show(fields[0] as string)}`);
  const sample: ExpositionSample = { name, labels, value };
  if (fields[1] !== undefined) {
    if (!/^-?\d{1,19}$/.test(fields[1]))
      throw new ExpositionError(number, `the timestamp of ${name} is not whole milliseconds: ${show(fields[1])}`);
    sample.timestampMs = Number(fields[1]);
  }
  return sample;
}
