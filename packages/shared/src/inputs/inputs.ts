import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigurationError, printable, runner, type Registry } from '../action';
import { documentProblems, type DocumentNames } from '../vocabulary';
import { quotedPlaceholders, templatePlaceholders } from '../hosts';

/**
 * Input reading and validation. Every input is read once, as the raw string the runner gives,
 * and validated by a zod schema into one typed object before anything touches a host.
 * An error names the input and the form expected. The host settings several actions share are
 * in host-settings.ts.
 */

/** How an input is read: `INPUT_<NAME>` with the name upper-cased and hyphens kept. */
export type InputReader = (name: string) => string;
export const readFromRunner: InputReader = (name) => runner.getInput(name);

type Field<T> = z.ZodType<T, string>;

/** What an input naming an implementation asks of a seam's registry (action/registry.ts). */
export type NameRegistry = Pick<Registry<unknown>, 'has' | 'names' | 'unknown'>;

/** Reads and validates every field; reports all bad inputs at once. */
export function readInputs<S extends Record<string, Field<unknown>>>(
  fields: S,
  read: InputReader = readFromRunner,
): { [K in keyof S]: z.output<S[K]> } {
  const result: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, schema] of Object.entries(fields)) {
    const parsed = schema.safeParse(read(name).trim());
    if (parsed.success) result[name] = parsed.data;
    else problems.push(`Input '${name}': ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  }
  if (problems.length > 0) throw new ConfigurationError(problems.join('\n'));
  return result as { [K in keyof S]: z.output<S[K]> };
}

export function fail(ctx: z.RefinementCtx<string>, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER as never;
}

const MAX_INPUT = 64 * 1024;

export function text<T>(check: (value: string, ctx: z.RefinementCtx<string>) => T) {
  return z.string().transform((value, ctx): T => {
    if (value.length > MAX_INPUT)
      return fail(ctx, `is ${value.length} characters long; at most ${MAX_INPUT} are accepted`);
    return check(value, ctx);
  });
}

export const field = {
  /** A string matching `pattern`; `form` says what is expected in words. */
  string(options: { form: string; pattern: RegExp; required?: boolean; default?: string; max?: number }) {
    return text((raw, ctx) => {
      const value = raw === '' ? (options.default ?? '') : raw;
      if (value === '') return options.required ? fail(ctx, `is required: ${options.form}`) : '';
      if (value.length > (options.max ?? 256))
        return fail(ctx, `is too long (${value.length} characters, at most ${options.max ?? 256}): ${options.form}`);
      if (!options.pattern.test(value)) return fail(ctx, `expected ${options.form}, got '${printable(value)}'`);
      return value;
    });
  },

  integer(options: { min: number; max: number; default: number; unit?: string }) {
    return text((raw, ctx) => {
      if (raw === '') return options.default;
      if (!/^\d+$/.test(raw))
        return fail(
          ctx,
          `expected a whole number from ${options.min} to ${options.max}${options.unit ? ` (${options.unit})` : ''}, got '${printable(raw)}'`,
        );
      const value = Number(raw);
      if (value < options.min || value > options.max)
        return fail(
          ctx,
          `expected a whole number from ${options.min} to ${options.max}${options.unit ? ` (${options.unit})` : ''}, got ${raw}`,
        );
      return value;
    });
  },

  /** A decimal number such as 0.01 or 2.5 (no exponent, no sign), from min to max. */
  decimal(options: { min: number; max: number; default: number; unit?: string }) {
    return text((raw, ctx) => {
      if (raw === '') return options.default;
      const expected = `expected a number from ${options.min} to ${options.max}${options.unit ? ` (${options.unit})` : ''}, such as ${options.default}`;
      if (!/^\d{1,15}(\.\d{1,15})?$|^\.\d{1,15}$/.test(raw)) return fail(ctx, `${expected}, got '${printable(raw)}'`);
      const value = Number(raw);
      if (value < options.min || value > options.max) return fail(ctx, `${expected}, got ${raw}`);
      return value;
    });
  },

  port(defaultPort: number) {
    return field.integer({ min: 1, max: 65535, default: defaultPort, unit: 'a TCP port' });
  },

  boolean(defaultValue: boolean) {
    return text((raw, ctx) => {
      if (raw === '') return defaultValue;
      if (/^(true|yes|on)$/i.test(raw)) return true;
      if (/^(false|no|off)$/i.test(raw)) return false;
      return fail(ctx, `expected true or false, got '${printable(raw)}'`);
    });
  },

  choice<const T extends readonly [string, ...string[]]>(choices: T, defaultValue: T[number]) {
    return text((raw, ctx) => {
      const value = raw === '' ? defaultValue : raw;
      if (!(choices as readonly string[]).includes(value))
        return fail(ctx, `expected one of ${choices.join(', ')}, got '${printable(value)}'`);
      return value as T[number];
    });
  },

  /**
   * The name of an implementation a seam's registry holds (a runtime, a router, a rollback method:
   * action/registry.ts). The names it accepts, and lists when given another, are the registry's
   * when the input is read: one a team registered counts as a built-in one does. With an empty
   * default, an empty input stays empty: the caller says what naming none means.
   */
  registered(registry: NameRegistry, defaultValue: string) {
    return text((raw, ctx) => {
      const value = raw === '' ? defaultValue : raw;
      // An empty default: naming none is a choice of its own (a rollback's runtime: as recorded).
      if (value === '') return '';
      return registry.has(value) ? value : fail(ctx, registry.unknown(value));
    });
  },

  /** A secret: masked as soon as it is read, never echoed in an error. */
  secret(options: { form: string; required?: boolean; check?: (value: string) => string | undefined }) {
    return text((raw, ctx) => {
      if (raw === '') return options.required ? fail(ctx, `is required: ${options.form}`) : '';
      mask(raw);
      const problem = options.check?.(raw);
      return problem
        ? fail(ctx, `${problem} (expected ${options.form}; the value is not shown because it is secret)`)
        : raw;
    });
  },

  /** A command template with `{placeholder}`s among `allowed`. */
  template(allowed: readonly string[]) {
    return text((raw, ctx) => {
      if (raw === '') return '';
      if (raw.includes('\0')) return fail(ctx, 'contains a NUL byte');
      const unknown = templatePlaceholders(raw).filter((name) => !allowed.includes(name));
      if (unknown.length > 0)
        return fail(
          ctx,
          `unknown placeholder {${unknown[0]}}; expected only ${allowed.map((name) => `{${name}}`).join(' ')}`,
        );
      const quoted = quotedPlaceholders(raw);
      if (quoted.length > 0)
        return fail(
          ctx,
          `the placeholder {${quoted[0]}} stands inside quotes or after a backslash; write it bare: every value is quoted for you`,
        );
      return raw;
    });
  },

  /** A YAML (or JSON) document whose value must satisfy `schema`, a document built with vocabulary's docField. */
  yaml<T>(schema: z.ZodType<T>, options: { form: string; default: string }) {
    return text(
      (raw, ctx) => yamlDocument(raw === '' ? options.default : raw, schema, options.form, ctx)?.value ?? z.NEVER,
    );
  },
};

/**
 * The input is the document: after `Input 'plan': `, an item of a list reads `[0].seconds`, a key
 * of a mapping `requests`, and a problem of the whole document has no place.
 */
const INPUT_DOCUMENT: DocumentNames = {};

/** Parses YAML and checks it against `schema`; every problem is reported, each with where it is, then the form expected (and undefined returned). */
export function yamlDocument<T>(
  raw: string,
  schema: z.ZodType<T>,
  form: string,
  ctx: z.RefinementCtx<string>,
): { value: T } | undefined {
  let document: unknown;
  try {
    document = parseYaml(raw);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `is not valid YAML (${(error as Error).message.split('\n')[0]}); expected ${form}`,
    });
    return undefined;
  }
  const parsed = schema.safeParse(document);
  if (!parsed.success) {
    ctx.addIssue({
      code: 'custom',
      message: `${documentProblems(parsed.error, INPUT_DOCUMENT).join('; ')}; expected ${form}`,
    });
    return undefined;
  }
  return { value: parsed.data };
}

/** Registers a secret with the runner so it is masked in every log line. */
export function mask(secret: string): void {
  if (secret === '') return;
  runner.setSecret(secret);
  for (const line of secret.split(/\r?\n/)) if (line.trim().length >= 4) runner.setSecret(line.trim());
}

/** The values a set of fields reads as. */
export type Values<S extends Record<string, z.ZodType>> = { [K in keyof S]: z.output<S[K]> };
