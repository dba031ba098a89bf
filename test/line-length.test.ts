import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without types
import { LIMIT, longLines } from '../scripts/line-length.mjs';

/**
 * scripts/line-length.mjs, the check behind "no line over 160 characters": it can fail. A long line is
 * reported by its 1-based number; a line holding a URL and the rows between `// line-length: table` and
 * `// line-length: end` are the only exemptions.
 */

const lines = longLines as (text: string, limit?: number) => number[];
const long = (length: number, start = 'const text = '): string => start + 'x'.repeat(length - start.length);

describe('longLines', () => {
  it('holds the limit at 160 characters', () => {
    expect(LIMIT).toBe(160);
  });

  it('reports a line over the limit by its 1-based number, and nothing at the limit', () => {
    const text = ['// short', long(LIMIT), long(LIMIT + 1), '', long(LIMIT + 40)].join('\n');
    expect(lines(text)).toEqual([3, 5]);
    expect(lines(long(LIMIT))).toEqual([]);
  });

  it('accepts a long line that holds a URL, and only for http(s)://', () => {
    const url = `// see ${'https://example.com/'.padEnd(LIMIT + 20, 'a')}`;
    const plain = `// see ${'example.com/'.padEnd(LIMIT + 20, 'a')}`;
    const insecure = `const link = 'http://example.com/${'a'.repeat(LIMIT)}';`;
    expect(lines([url, insecure, plain].join('\n'))).toEqual([3]);
  });

  it('accepts the rows of a marked test data table, and checks again after its end marker', () => {
    const text = [
      'const cases = [',
      '  // line-length: table',
      long(LIMIT + 10, "  ['a', "),
      long(LIMIT + 10, "  ['b', "),
      '  // line-length: end',
      '];',
      long(LIMIT + 10),
    ].join('\n');
    expect(lines(text)).toEqual([7]);
  });

  it('does not take a table marker without its comment for one', () => {
    const text = ['line-length: table', long(LIMIT + 1)].join('\n');
    expect(lines(text)).toEqual([2]);
  });

  it('takes another limit when given one', () => {
    expect(lines(['12345', '123456'].join('\n'), 5)).toEqual([2]);
  });
});
