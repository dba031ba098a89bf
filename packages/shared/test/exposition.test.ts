import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseExposition } from '../src/runtime/exposition';
import { ExpositionError, parseSampleValue } from '../src/runtime/exposition-sample';

const LAB_APP = fileURLToPath(new URL('../../../test/lab/app-server.mjs', import.meta.url));

const GOOD = `# HELP http_requests_total Total HTTP requests served, by status.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
`;

describe('parseExposition: good bodies', () => {
  it('reads the example of the Prometheus documentation, escapes, timestamps and all', () => {
    const exposition = parseExposition(GOOD);
    expect(exposition.sampleCount).toBe(20);
    expect(exposition.families.map((family) => [family.name, family.type, family.samples.length])).toEqual([
      ['http_requests_total', 'counter', 2],
      ['msdos_file_access_time_seconds', 'untyped', 1],
      ['metric_without_timestamp_and_labels', 'untyped', 1],
      ['something_weird', 'untyped', 1],
      ['http_request_duration_seconds', 'histogram', 8],
      ['rpc_duration_seconds', 'summary', 7],
    ]);
    const [requests, msdos, , weird] = exposition.families;
    expect(requests?.help).toBe('Total HTTP requests served, by status.');
    expect(requests?.samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { method: 'post', code: '200' },
      value: 1027,
      timestampMs: 1395066363000,
    });
    expect(msdos?.samples[0]?.labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    expect(weird?.samples[0]).toMatchObject({ value: Infinity, timestampMs: -3982045 });
  });

  it("accepts a trailing comma in labels, empty label sets, NaN and the lab app's real /metrics", async () => {
    expect(parseExposition('a{x="1",} 1\nb{} NaN\nc -Inf\n').sampleCount).toBe(3);
    const port = 20000 + Math.floor(Math.random() * 5000);
    const app = spawn(process.execPath, [LAB_APP, '--port', String(port), '--version', 'v9'], { stdio: 'ignore' });
    try {
      let body = '';
      for (let attempt = 0; attempt < 100 && !body; attempt++) {
        try {
          await fetch(`http://127.0.0.1:${port}/run-agent`, { method: 'POST', body: '{"instruction":"x"}' });
          body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      const exposition = parseExposition(body);
      expect(exposition.families.find((family) => family.name === 'http_request_duration_seconds')?.type).toBe(
        'histogram',
      );
      expect(exposition.families.find((family) => family.name === 'agent_loop_info')?.samples[0]?.labels).toEqual({
        version: 'v9',
        color: 'blue',
      });
    } finally {
      app.kill();
    }
  });

  it('reads values as Prometheus does', () => {
    expect(parseSampleValue('1e3')).toBe(1000);
    expect(parseSampleValue('-0.5')).toBe(-0.5);
    expect(parseSampleValue('.5')).toBe(0.5);
    expect(parseSampleValue('+Inf')).toBe(Infinity);
    expect(parseSampleValue('NaN')).toBeNaN();
    for (const bad of ['1,5', '0x10', '', '1e', 'one', '1 2']) expect(parseSampleValue(bad), bad).toBeUndefined();
  });
});

describe('parseExposition: bad bodies are refused, naming the line', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['an HTML error page', '<html><body>502 Bad Gateway</body></html>\n', /line 1: expected a metric name/],
    ['a JSON body', '{"status":"ok"}\n', /line 1: expected a metric name/],
    ['an empty body', '', /empty/],
    ['only comments', '# just a comment\n', /no samples/],
    ['no final line feed', 'up 1', /line 1: the last line does not end with a line feed/],
    ['CRLF line ends', 'up 1\r\n', /line 1: carriage return/],
    ['a sample without value', 'up\n', /line 1: the sample up has no value/],
    ['a value that is not a number', 'up one\n', /line 1: the value of up is not a number/],
    ['a decimal comma', 'up 1,5\n', /not a number/],
    ['a name starting with a digit', '1up 1\n', /expected a metric name/],
    ['a dash in a name', 'http-requests 1\n', /expected a space and a value after http/],
    ['an unterminated label value', 'up{job="a} 1\n', /line 1: the value of the label job of up is not terminated/],
    ['an unquoted label value', 'up{job=a} 1\n', /expected a quoted value for the label job/],
    ['a bad escape', 'up{job="a\\tb"} 1\n', /invalid escape \\t/],
    ['a label given twice', 'up{job="a",job="b"} 1\n', /the label job appears twice/],
    ['a reserved label name', 'up{__name__="x"} 1\n', /reserved/],
    ['a missing comma', 'up{a="1" b="2"} 1\n', /expected , or }/],
    ['three fields', 'up 1 2 3\n', /has 4 fields|has 3 fields/],
    ['a fractional timestamp', 'up 1 1.5\n', /the timestamp of up is not whole milliseconds/],
    ['an unknown type', '# TYPE up gauges\nup 1\n', /line 1: unknown type 'gauges'/],
    ['TYPE twice', '# TYPE up gauge\n# TYPE up gauge\nup 1\n', /line 2: second # TYPE line for up/],
    ['HELP twice', '# HELP up a\n# HELP up b\nup 1\n', /line 2: second # HELP line for up/],
    ['TYPE after its samples', 'up 1\n# TYPE up gauge\n', /line 2: # TYPE for up comes after its samples/],
    ['a family split in two', 'a 1\nb 1\na{x="1"} 2\n', /line 3: the lines of a are not grouped together/],
    ['a duplicate series', 'a{x="1",y="2"} 1\na{y="2",x="1"} 2\n', /line 2: duplicate sample a\{x="1",y="2"\}/],
    ['a negative counter', '# TYPE c counter\nc -1\n', /line 2: counter c is negative/],
    [
      'a histogram without +Inf',
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
      /histogram h has no le="\+Inf" bucket/,
    ],
    [
      'decreasing buckets',
      '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="2"} 3\nh_bucket{le="+Inf"} 5\n',
      /bucket counts decrease at le="2"/,
    ],
    [
      '_count not matching +Inf',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 5\nh_count 4\n',
      /_count is 4 but the \+Inf bucket is 5/,
    ],
    ['a bucket without le', '# TYPE h histogram\nh_bucket 5\n', /a _bucket sample has no le label/],
    [
      'a summary sample without quantile',
      '# TYPE s summary\ns 1\n',
      /summary s: a sample without _sum\/_count needs a quantile label/,
    ],
    ['a bad HELP escape', '# HELP up a \\t b\nup 1\n', /line 1: invalid escape in the # HELP text of up/],
  ];

  it.each(bad)('%s', (_what, body, message) => {
    let error: unknown;
    try {
      parseExposition(body);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ExpositionError);
    expect((error as Error).message).toMatch(message);
  });
});
