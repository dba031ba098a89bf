import { describe, expect, it } from 'vitest';
import { monitorPhaseInputs, monitorPolicy, readInputs } from '../src/inputs';

const read = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('prometheus-queries', () => {
  it('refuses an unknown placeholder when the inputs are read, before any host is contacted, naming it', () => {
    const queries =
      'requests: sum(increase(http_requests_total{app="{app}"}[{window}]))\n' +
      'errors: sum(increase(http_requests_total{app="{app}",colour="{colour}"}[{window}]))';
    expect(() => readInputs(monitorPhaseInputs, read({ 'prometheus-queries': queries }))).toThrow(
      "Input 'prometheus-queries': the errors query: unknown placeholder {colour}; known: {app} {color} {version} {window}; " +
        'expected a YAML mapping of PromQL templates with {app} {color} {version} {window}',
    );
  });

  it('accepts templates with the known placeholders, and null to leave a figure out', () => {
    const queries =
      'requests: sum(increase(x{app="{app}",color="{color}",version="{version}"}[{window}]))\nmemory: null';
    expect(readInputs(monitorPhaseInputs, read({ 'prometheus-queries': queries }))['prometheus-queries']).toEqual({
      requests: 'sum(increase(x{app="{app}",color="{color}",version="{version}"}[{window}]))',
      memory: null,
    });
  });
});

describe('memory', () => {
  const rules = (values: Record<string, string>) =>
    monitorPolicy(readInputs(monitorPhaseInputs, read(values))).rules.map((rule) => rule.name);

  it('none leaves the memory trigger out of the policy: a rule no source feeds is not shown as "no data"', () => {
    expect(rules({ memory: 'none' })).not.toContain('memory');
    expect(rules({ memory: 'none' })).toContain('health-checks');
    expect(rules({})).toContain('memory');
  });

  it('none keeps it when Prometheus reads memory, and leaves it out when its memory query is null', () => {
    const prometheus = {
      memory: 'none',
      sources: 'nginx-log, prometheus',
      'prometheus-url': 'http://prometheus.internal:9090',
    };
    expect(rules(prometheus)).toContain('memory');
    expect(rules({ ...prometheus, 'prometheus-queries': 'memory: null' })).not.toContain('memory');
  });
});
