import { show } from '../action';
import {
  ExpositionError,
  parseSampleLine,
  parseSampleValue,
  type ExpositionSample,
  type MetricType,
} from './exposition-sample';

/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for checking that a
 * service's /metrics can be scraped. It accepts what Prometheus accepts and refuses what would make
 * a scrape fail or silently lose series: a bad name or value, an unterminated label set, a TYPE
 * given twice or after its samples, a family split in two, a histogram without its +Inf bucket.
 * Pure: text in, families out, or an ExpositionError naming the line.
 */

export interface MetricFamily {
  name: string;
  type: MetricType;
  help?: string;
  samples: ExpositionSample[];
}

export interface Exposition {
  families: MetricFamily[];
  sampleCount: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const MAX_LENGTH = 16 * 1024 * 1024;

/** The family a sample belongs to, given the TYPE lines seen so far. */
function familyOf(sampleName: string, declared: ReadonlyMap<string, MetricType>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const type = declared.get(base);
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return sampleName;
}

const seriesKey = (sample: ExpositionSample): string =>
  `${sample.name}{${Object.entries(sample.labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;

function checkHistogram(family: MetricFamily): void {
  const groups = new Map<string, { buckets: Array<{ le: number; count: number }>; count?: number }>();
  const groupOf = (labels: Record<string, string>) => {
    const { le: _le, ...rest } = labels;
    const key = seriesKey({ name: '', labels: rest, value: 0 });
    let group = groups.get(key);
    if (!group) {
      group = { buckets: [] };
      groups.set(key, group);
    }
    return { key, group };
  };
  for (const sample of family.samples) {
    if (sample.name === `${family.name}_bucket`) {
      const le = sample.labels.le;
      if (le === undefined) throw new ExpositionError(0, `histogram ${family.name}: a _bucket sample has no le label`);
      const bound = parseSampleValue(le);
      if (bound === undefined || Number.isNaN(bound))
        throw new ExpositionError(0, `histogram ${family.name}: le="${le}" is not a number`);
      groupOf(sample.labels).group.buckets.push({ le: bound, count: sample.value });
    } else if (sample.name === `${family.name}_count`) {
      groupOf(sample.labels).group.count = sample.value;
    } else if (sample.name !== `${family.name}_sum`) {
      throw new ExpositionError(
        0,
        `histogram ${family.name}: unexpected sample ${sample.name} (expected _bucket, _sum and _count)`,
      );
    }
  }
  for (const [key, { buckets, count }] of groups) {
    const where = key === '{}' ? '' : ` ${key}`;
    const sorted = [...buckets].sort((a, b) => a.le - b.le);
    const inf = sorted.at(-1);
    if (!inf || inf.le !== Infinity)
      throw new ExpositionError(0, `histogram ${family.name}${where} has no le="+Inf" bucket`);
    for (let i = 1; i < sorted.length; i++) {
      if ((sorted[i] as { count: number }).count < (sorted[i - 1] as { count: number }).count)
        throw new ExpositionError(
          0,
          `histogram ${family.name}${where}: bucket counts decrease at le="${(sorted[i] as { le: number }).le}" (buckets are cumulative)`,
        );
    }
    if (count !== undefined && count !== inf.count)
      throw new ExpositionError(
        0,
        `histogram ${family.name}${where}: _count is ${count} but the +Inf bucket is ${inf.count}`,
      );
  }
}

function checkSummary(family: MetricFamily): void {
  for (const sample of family.samples) {
    if (sample.name !== family.name) continue;
    const quantile = sample.labels.quantile;
    const q = quantile === undefined ? undefined : parseSampleValue(quantile);
    if (q === undefined || !(q >= 0 && q <= 1))
      throw new ExpositionError(
        0,
        `summary ${family.name}: a sample without _sum/_count needs a quantile label from 0 to 1, got ${quantile === undefined ? 'none' : `"${quantile}"`}`,
      );
  }
}

/** Parses and checks a whole exposition; throws ExpositionError on the first problem. */
export function parseExposition(text: string): Exposition {
  if (text.length > MAX_LENGTH)
    throw new ExpositionError(0, `the body is ${text.length} bytes; at most ${MAX_LENGTH} are read`);
  if (text.trim() === '') throw new ExpositionError(0, 'the body is empty: no metrics');
  if (text.includes('\r'))
    throw new ExpositionError(
      text.slice(0, text.indexOf('\r')).split('\n').length,
      'carriage return: lines must end with \\n only',
    );
  if (text.includes('\0')) throw new ExpositionError(text.slice(0, text.indexOf('\0')).split('\n').length, 'NUL byte');

  const families = new Map<string, MetricFamily>();
  const declared = new Map<string, MetricType>();
  const helped = new Set<string>();
  const series = new Set<string>();
  const closed = new Set<string>();
  let current: string | null = null;
  let sampleCount = 0;

  const family = (name: string): MetricFamily => {
    let found = families.get(name);
    if (!found) {
      found = { name, type: declared.get(name) ?? 'untyped', samples: [] };
      families.set(name, found);
    }
    return found;
  };
  /** Moves to `name`'s group; a family whose group ended cannot start again. */
  const enter = (name: string, number: number): void => {
    if (current === name) return;
    if (closed.has(name))
      throw new ExpositionError(
        number,
        `the lines of ${name} are not grouped together (it appeared before another metric)`,
      );
    if (current !== null) closed.add(current);
    current = name;
  };

  const lines = text.split('\n');
  // The last line must end with a line feed: then split leaves an empty string last. Checked after
  // the lines themselves, so an HTML or JSON body is reported for what it is.
  const unterminated = lines.at(-1) !== '';
  if (!unterminated) lines.pop();
  lines.forEach((line, index) => {
    const number = index + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!meta) return; // a plain comment
      const [, kind, name = '', rest = ''] = meta;
      if (!METRIC_NAME.test(name)) throw new ExpositionError(number, `invalid metric name ${show(name)} in # ${kind}`);
      enter(name, number);
      if (kind === 'TYPE') {
        const type = rest.trim() as MetricType;
        if (!TYPES.includes(type))
          throw new ExpositionError(
            number,
            `unknown type ${show(rest.trim())} for ${name}; expected one of ${TYPES.join(', ')}`,
          );
        if (declared.has(name)) throw new ExpositionError(number, `second # TYPE line for ${name}`);
        if (families.get(name)?.samples.length)
          throw new ExpositionError(number, `# TYPE for ${name} comes after its samples`);
        declared.set(name, type);
        family(name).type = type;
      } else {
        if (helped.has(name)) throw new ExpositionError(number, `second # HELP line for ${name}`);
        helped.add(name);
        // HELP text escapes only \\ and \n.
        if (/\\(?![\\n])/.test(rest))
          throw new ExpositionError(
            number,
            `invalid escape in the # HELP text of ${name} (only \\\\ and \\n are allowed)`,
          );
        family(name).help = rest.replace(/\\(\\|n)/g, (_match, escaped: string) => (escaped === 'n' ? '\n' : '\\'));
      }
      return;
    }
    const sample = parseSampleLine(line, number);
    const name = familyOf(sample.name, declared);
    enter(name, number);
    const key = seriesKey(sample);
    if (series.has(key)) throw new ExpositionError(number, `duplicate sample ${key}`);
    series.add(key);
    const target = family(name);
    if (
      (target.type === 'counter' || target.type === 'histogram' || target.type === 'summary') &&
      sample.name !== target.name + '_sum' &&
      sample.value < 0
    ) {
      throw new ExpositionError(number, `${target.type} ${sample.name} is negative (${sample.value})`);
    }
    target.samples.push(sample);
    sampleCount++;
  });

  if (unterminated) throw new ExpositionError(lines.length, 'the last line does not end with a line feed');
  for (const found of families.values()) {
    if (found.type === 'histogram') checkHistogram(found);
    if (found.type === 'summary') checkSummary(found);
  }
  if (sampleCount === 0) throw new ExpositionError(0, 'no samples: only comments');
  return { families: [...families.values()], sampleCount };
}
