import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigurationError, requireInput, show } from '../action';
import { DEFAULT_POLICY, DEFAULT_POLICY_YAML, DEFAULT_ROLLBACK_ON, parsePolicy, type Policy } from '../analysis';
import {
  checkQueryTemplate,
  checkSources,
  DEFAULT_PROMETHEUS_QUERIES,
  metricSources,
  type PrometheusQueries,
  type SourceOptions,
} from '../analysis/sources';
import { accessLogInput } from './host-settings';
import { field, type NameRegistry, type Values } from './inputs';
import { ANY_TEXT, docField, URL_PATH } from '../vocabulary';

/**
 * The canary analysis' inputs, defined once: the canary-monitor action and the operator's command
 * line read the same fields, the same policy and build the same settings from them.
 */

const VERDICTS = ['failure', 'error', 'inconclusive'] as const;

/** `a, b` reads as `[a, b]`, so comma lists and YAML lists read the same (in the field itself, so its default is checked like any value). */
export function commaList<S extends z.ZodType<unknown, string>>(schema: S) {
  return z
    .string()
    .transform((raw) => (raw !== '' && !raw.startsWith('[') && !raw.startsWith('-') ? `[${raw}]` : raw))
    .pipe(schema);
}

function list<const T extends readonly string[]>(allowed: T, defaultValue: string, what: string) {
  const items = docField.list(docField.choice(allowed), { min: 1, max: 100, noun: what, form: `a list of ${what}` });
  return commaList(
    field.yaml(items, {
      form: `${what}: a comma-separated list of ${allowed.join(', ')}`,
      default: `[${defaultValue}]`,
    }),
  );
}

/** A list of names a seam's registry holds, checked when the input is read (a name a team registered counts). */
function registeredList(registry: NameRegistry, defaultValue: string, what: string) {
  const name = z.unknown().transform((value, ctx): string => {
    if (typeof value === 'string' && registry.has(value)) return value;
    ctx.addIssue({
      code: 'custom',
      message:
        typeof value === 'string'
          ? registry.unknown(value)
          : `expected one of ${registry.names().join(', ')}, got ${show(value)}`,
    });
    return z.NEVER;
  });
  const items = docField.list(name, { min: 1, max: 100, noun: what, form: `a list of ${what}` });
  return commaList(
    field.yaml(items, { form: `${what}: a comma-separated list of registered names`, default: `[${defaultValue}]` }),
  );
}

const QUERY_KEYS = Object.keys(DEFAULT_PROMETHEUS_QUERIES) as Array<keyof PrometheusQueries>;
const queryTemplate = docField
  .text('a PromQL template of at most 2000 characters', ANY_TEXT, 2000)
  .nullable()
  .optional();

/** PromQL templates by figure (null leaves a figure out), their placeholders checked as the Prometheus source checks them: before any host is contacted. */
const prometheusQueries = docField
  .mapping(
    Object.fromEntries(QUERY_KEYS.map((key) => [key, queryTemplate])) as Record<
      keyof PrometheusQueries,
      typeof queryTemplate
    >,
    'a mapping of PromQL templates',
  )
  .optional()
  .superRefine((queries, ctx) => {
    for (const [key, template] of Object.entries(queries ?? {})) {
      try {
        if (typeof template === 'string') checkQueryTemplate(template, `the ${key} query`);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }
  });

export const monitorPhaseInputs = {
  mode: field.choice(['canary', 'ramp', 'post-promotion'], 'canary'),
  policy: field.string({ form: 'a YAML analysis policy (see the README)', pattern: /^[\s\S]*$/, max: 20_000 }),
  duration: field.integer({
    min: 0,
    max: 86_400,
    default: 0,
    unit: `seconds of analysis per step; 0 keeps the policy's (${DEFAULT_POLICY.duration})`,
  }),
  interval: field.integer({
    min: 0,
    max: 3600,
    default: 0,
    unit: `seconds between samples; 0 keeps the policy's (${DEFAULT_POLICY.interval})`,
  }),
  steps: commaList(
    field.yaml(
      docField.list(docField.number({ min: 1, max: 100, integer: true, unit: 'percent' }), {
        min: 1,
        max: 20,
        noun: 'steps',
        form: 'a list of canary shares',
      }),
      {
        form: 'canary shares for a ramp, increasing, e.g. 10,25,50,100',
        default: '[10, 25, 50, 100]',
      },
    ),
  ),
  model: field.boolean(false),
  sources: registeredList(metricSources, 'nginx-log, host', 'metric sources'),
  'access-log': accessLogInput,
  'prometheus-url': field.string({
    form: 'the Prometheus base URL reachable from the runner, e.g. http://prometheus.internal:9090',
    pattern: /^https?:\/\/[A-Za-z0-9.:[\]_-]+(\/[A-Za-z0-9._~/-]*)?$/,
    max: 512,
  }),
  'prometheus-queries': field.yaml(prometheusQueries, {
    form: 'a YAML mapping of PromQL templates with {app} {color} {version} {window}',
    default: '{}',
  }),
  'probe-path': field.string({ form: 'a URL path the probe requests', pattern: URL_PATH, default: '/health' }),
  'probe-requests': field.integer({ min: 1, max: 100, default: 3, unit: 'requests per color per sample' }),
  memory: field.choice(['host', 'compose', 'none'], 'host'),
  'auto-rollback': field.boolean(true),
  'rollback-on': list(VERDICTS, DEFAULT_ROLLBACK_ON.join(', '), 'verdicts that roll back'),
  'keep-failed': field.boolean(false),
};

export type MonitorInputs = Values<typeof monitorPhaseInputs>;

/** What the sources the inputs list are set with (analysis/sources/registry.ts); health-path is the runtime inputs'. */
export function sourceOptions(inputs: MonitorInputs & { 'health-path'?: string; router?: string }): SourceOptions {
  return {
    ...(inputs.router ? { router: inputs.router } : {}),
    healthPath: inputs['health-path'] ?? '/health',
    probePath: inputs['probe-path'],
    probeRequests: inputs['probe-requests'],
    memory: inputs.memory,
    prometheus: inputs['prometheus-url']
      ? { url: inputs['prometheus-url'], queries: inputs['prometheus-queries'] ?? {} }
      : null,
  };
}

/** The analysis policy the inputs give (the policy YAML, with duration and interval over it), checked. */
export function monitorPolicy(inputs: MonitorInputs & { 'health-path'?: string; router?: string }): Policy {
  let document: Record<string, unknown>;
  try {
    const parsed: unknown = parseYaml(inputs.policy === '' ? DEFAULT_POLICY_YAML : inputs.policy);
    document =
      parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed)))
      throw new Error('expected a mapping');
  } catch (error) {
    throw new ConfigurationError(
      `Input 'policy': is not a valid YAML mapping (${(error as Error).message.split('\n')[0]})`,
    );
  }
  if (inputs.duration > 0) document.duration = inputs.duration;
  if (inputs.interval > 0) document.interval = inputs.interval;
  let policy: Policy;
  try {
    policy = parsePolicy(document);
  } catch (error) {
    throw new ConfigurationError(`Input 'policy': ${(error as Error).message}`);
  }
  const steps = inputs.steps;
  requireInput(
    steps.every((step, index) => index === 0 || step > (steps[index - 1] as number)),
    'steps',
    `must increase, got ${steps.join(', ')}`,
  );
  checkSources(inputs.sources, sourceOptions(inputs));
  // memory: none turns the host's memory figure off; unless Prometheus reads one, a memory rule
  // would watch nothing, so it is left out of the policy rather than shown as "no data".
  const memoryFromPrometheus = inputs.sources.includes('prometheus') && inputs['prometheus-queries']?.memory !== null;
  if (inputs.memory === 'none' && !memoryFromPrometheus)
    return { ...policy, rules: policy.rules.filter((rule) => rule.metric !== 'memory_ratio') };
  return policy;
}
