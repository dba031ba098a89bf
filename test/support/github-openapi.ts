import { createRequire } from 'node:module';
import Ajv from 'ajv';

/**
 * GitHub's published REST description (npm `@octokit/openapi`, api.github.com) as a checker for
 * the test stand-ins: a request is checked against its operation (path, query parameters, JSON
 * body), and an answer against the documented schema of its status. The stand-ins answer 422 to
 * an invalid request, as GitHub does, and the tests assert that no request was invalid and that
 * every answer followed the schema.
 */

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema?: Record<string, unknown>;
  $ref?: string;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }>; $ref?: string }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: {
    parameters: Record<string, Parameter>;
    responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
  };
}

let loaded:
  | {
      document: Document;
      ajv: Ajv.Ajv;
      routes: Array<{ template: string; pattern: RegExp; methods: Record<string, Operation> }>;
    }
  | undefined;

function load() {
  if (loaded) return loaded;
  const document = createRequire(import.meta.url)('@octokit/openapi/generated/api.github.com.json') as Document;
  // OpenAPI 3.0 schemas: `nullable` is a keyword; `example`, `discriminator` … are annotations.
  const ajv = new Ajv({
    nullable: true,
    unknownFormats: 'ignore',
    validateSchema: false,
    allErrors: true,
    schemaId: 'auto',
    logger: false,
  });
  ajv.addSchema(document as unknown as object, 'github');
  const routes = Object.entries(document.paths).map(([template, methods]) => ({
    template,
    pattern: new RegExp(
      `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}|\{[^}]+\}/g, '[^/]+')}$`,
    ),
    methods,
  }));
  loaded = { document, ajv, routes };
  return loaded;
}

const resolveParameter = (parameter: Parameter): Parameter =>
  parameter.$ref ? load().document.components.parameters[parameter.$ref.split('/').pop()!]! : parameter;

function schemaErrors(schema: Record<string, unknown>, value: unknown): string[] {
  const { ajv } = load();
  // Component references inside the schema point into the whole document.
  const rooted = JSON.parse(JSON.stringify(schema).replaceAll('"$ref":"#/', '"$ref":"github#/')) as object;
  const validate = ajv.compile(rooted);
  if (validate(value)) return [];
  return (validate.errors ?? []).map(
    (error) =>
      `${error.dataPath || '(body)'} ${error.message}` +
      (error.params && 'allowedValues' in error.params
        ? `: ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`
        : ''),
  );
}

export interface OperationMatch {
  template: string;
  operation: Operation;
}

export function findOperation(method: string, path: string): OperationMatch | undefined {
  const pathname = path.split('?')[0]!;
  for (const route of load().routes) {
    const operation = route.methods[method.toLowerCase()];
    if (operation && route.pattern.test(pathname)) return { template: route.template, operation };
  }
  return undefined;
}

/** Why GitHub would refuse this request (empty when it is a valid call of a documented operation). */
export function requestProblems(method: string, url: string, body: unknown): string[] {
  const parsed = new URL(url, 'http://api.invalid');
  const match = findOperation(method, parsed.pathname);
  if (!match) return [`${method} ${parsed.pathname}: no such operation in GitHub's REST API`];
  const problems: string[] = [];
  const parameters = (match.operation.parameters ?? []).map(resolveParameter);
  for (const [name, value] of parsed.searchParams) {
    const parameter = parameters.find((candidate) => candidate.in === 'query' && candidate.name === name);
    if (!parameter) {
      problems.push(`query parameter '${name}' is not a parameter of ${match.operation.operationId}`);
      continue;
    }
    const typed =
      parameter.schema?.type === 'integer' || parameter.schema?.type === 'number'
        ? Number(value)
        : parameter.schema?.type === 'boolean'
          ? value === 'true'
          : value;
    for (const problem of schemaErrors(parameter.schema ?? {}, typed))
      problems.push(`query parameter '${name}': ${problem.replace('(body) ', '')}`);
  }
  for (const parameter of parameters)
    if (parameter.in === 'query' && parameter.required && !parsed.searchParams.has(parameter.name))
      problems.push(`query parameter '${parameter.name}' is required`);
  const content = match.operation.requestBody?.content['application/json'];
  if (content) {
    if (body === undefined || body === null) {
      if (match.operation.requestBody?.required) problems.push(`${match.operation.operationId} needs a JSON body`);
    } else {
      for (const problem of schemaErrors(content.schema, body))
        problems.push(`body${problem.startsWith('(body)') ? problem.slice(6) : ` ${problem}`}`);
    }
  } else if (body !== undefined && body !== null && method !== 'GET') {
    problems.push(`${match.operation.operationId} takes no body`);
  }
  return problems;
}

/** Where an answer differs from the documented schema of its status (empty when it follows it). */
export function responseProblems(method: string, url: string, status: number, body: unknown): string[] {
  const match = findOperation(method, new URL(url, 'http://api.invalid').pathname);
  // GitHub answers 404 to a path it does not have: nothing documents that answer.
  if (!match) return status === 404 ? [] : [`${method} ${url}: no such operation`];
  let response = match.operation.responses[String(status)];
  if (!response)
    return [
      `${match.operation.operationId} has no documented ${status} answer (documented: ${Object.keys(match.operation.responses).join(', ')})`,
    ];
  if (response.$ref) response = load().document.components.responses[response.$ref.split('/').pop()!]!;
  const schema = response.content?.['application/json']?.schema;
  return schema ? schemaErrors(schema, body) : [];
}

/**
 * GitHub's 422 answer to an invalid request, in the form its description documents for that
 * operation (some list the reasons as strings, others as objects with a code).
 */
export function validationFailed(method: string, path: string, problems: string[]): Record<string, unknown> {
  const base = { message: 'Invalid request.', documentation_url: 'https://docs.github.com/rest', status: '422' };
  const candidates = [
    { ...base, errors: problems },
    { ...base, errors: problems.map((message) => ({ resource: 'Request', code: 'invalid', message })) },
  ];
  return candidates.find((candidate) => responseProblems(method, path, 422, candidate).length === 0) ?? candidates[0]!;
}

/**
 * Loads the description and compiles the checks of the calls the suite makes (a few seconds), so
 * that the first request a stand-in answers is not slowed down by it: a slow answer would make
 * the actions' HTTP client time out and retry.
 */
export function warmUp(): void {
  const now = new Date().toISOString();
  requestProblems('POST', '/repos/o/r/deployments', {
    ref: 'main',
    environment: 'production',
    payload: {},
    auto_merge: false,
    required_contexts: [],
  });
  requestProblems('POST', '/repos/o/r/deployments/1/statuses', {
    state: 'success',
    description: '',
    log_url: 'https://github.com/o/r/actions/runs/1',
    auto_inactive: true,
  });
  requestProblems('POST', '/repos/o/r/issues', { title: 't', body: 'b', labels: ['incident'] });
  requestProblems('GET', '/repos/o/r/deployments?environment=production&per_page=100&page=2', undefined);
  requestProblems('GET', '/repos/o/r/deployments/1/statuses?per_page=100', undefined);
  requestProblems('GET', '/repos/o/r/commits/abc', undefined);
  for (const [method, path, status] of [
    ['POST', '/repos/o/r/deployments', 201],
    ['POST', '/repos/o/r/deployments', 422],
    ['POST', '/repos/o/r/deployments/1/statuses', 201],
    ['POST', '/repos/o/r/deployments/1/statuses', 422],
    ['POST', '/repos/o/r/issues', 201],
    ['GET', '/repos/o/r/deployments', 200],
    ['GET', '/repos/o/r/deployments/1/statuses', 200],
    ['GET', '/repos/o/r/commits/abc', 200],
    ['GET', '/repos/o/r/commits/abc', 422],
  ] as const) {
    responseProblems(method, path, status, { created_at: now });
  }
}
