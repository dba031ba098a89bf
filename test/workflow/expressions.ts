// Every expression goes through GitHub's own lexer, parser and evaluator (@actions/expressions):
// this file only supplies the contexts and the functions the runner supplies (status functions).
import { data, Evaluator, Lexer, Parser } from '@actions/expressions';
import { TokenType, type Token } from '@actions/expressions/lexer';
import type { FunctionDefinition, FunctionInfo } from '@actions/expressions/funcs/info';
import { truthy } from '@actions/expressions/result';

export type ExpressionData = data.ExpressionData;

/** The job's state that success(), failure(), cancelled() read; always() needs none. */
export interface StatusReader {
  success(): boolean;
  failure(): boolean;
  cancelled(): boolean;
}

/** The contexts an expression may name, as plain JSON-like values. */
export type Contexts = Partial<Record<ContextName, unknown>>;

export const CONTEXT_NAMES = [
  'github',
  'env',
  'vars',
  'secrets',
  'inputs',
  'needs',
  'steps',
  'job',
  'jobs',
  'runner',
  'matrix',
  'strategy',
] as const;
export type ContextName = (typeof CONTEXT_NAMES)[number];

const STATUS_FUNCTIONS = ['success', 'failure', 'cancelled', 'always'] as const;
const FUNCTION_INFOS: FunctionInfo[] = [
  ...STATUS_FUNCTIONS.map((name) => ({ name, minArgs: 0, maxArgs: 0 })),
  { name: 'hashFiles', minArgs: 1, maxArgs: 255 },
];

/** An evaluation that failed: GitHub fails the job or step with this message. */
export class ExpressionFailure extends Error {
  constructor(
    readonly expression: string,
    cause: unknown,
  ) {
    super(`${cause instanceof Error ? cause.message : String(cause)} (in the expression: ${expression})`);
    this.name = 'ExpressionFailure';
  }
}

/** Plain JSON (objects, arrays, strings, numbers, booleans, null) into the evaluator's data. */
export function toData(value: unknown): ExpressionData {
  return JSON.parse(JSON.stringify(value ?? null), data.reviver) as ExpressionData;
}

/** The evaluator's data back into plain JSON. */
export function fromData(value: ExpressionData): unknown {
  return JSON.parse(JSON.stringify(value, data.replacer)) as unknown;
}

/** GitHub's string conversion of a result (what lands in env:, with:, run:). */
export function dataToString(value: ExpressionData): string {
  return value.coerceString();
}

function functionsFor(status: StatusReader | undefined): Map<string, FunctionDefinition> {
  const bool = (read: () => boolean) => () => new data.BooleanData(read());
  const unavailable = (name: string) => () => {
    throw new Error(`${name}() is not available here`);
  };
  const fn = (name: string, call: FunctionDefinition['call']): [string, FunctionDefinition] => [
    name.toLowerCase(),
    { ...FUNCTION_INFOS.find((info) => info.name === name)!, call },
  ];
  return new Map([
    fn('success', status ? bool(() => status.success()) : unavailable('success')),
    fn('failure', status ? bool(() => status.failure()) : unavailable('failure')),
    fn('cancelled', status ? bool(() => status.cancelled()) : unavailable('cancelled')),
    fn(
      'always',
      bool(() => true),
    ),
    // No workflow here hashes files (caches are stand-ins): refuse clearly rather than guess.
    fn('hashFiles', () => {
      throw new Error('hashFiles() is not supported by this runner');
    }),
  ]);
}

/**
 * The lexer of @actions/expressions 0.3.61 unescapes only the first `''` of a string literal
 * (`value.replace("''", "'")`); GitHub's evaluator unescapes every one. The parser escapes each
 * quote of a script it turns into format('...'), so a script with two quotes would reach bash
 * wrong. Each string token's value is taken again from its lexeme, every `''` unescaped.
 */
function unescapeStrings(tokens: Token[]): Token[] {
  return tokens.map((token) =>
    token.type === TokenType.STRING ? { ...token, value: token.lexeme.slice(1, -1).replaceAll("''", "'") } : token,
  );
}

/** Evaluates one expression (without `${{ }}`) against the contexts. */
export function evaluate(expression: string, contexts: Contexts, status?: StatusReader): ExpressionData {
  try {
    const tokens = unescapeStrings(new Lexer(expression).lex().tokens);
    const tree = new Parser(tokens, Object.keys(contexts), FUNCTION_INFOS).parse();
    const scope = new data.Dictionary(
      ...Object.entries(contexts).map(([key, value]) => ({ key, value: toData(value) })),
    );
    return new Evaluator(tree, scope, functionsFor(status)).evaluate();
  } catch (error) {
    throw new ExpressionFailure(expression, error);
  }
}

/** An `if:` condition (the parser already wrapped it in success() && (...) where GitHub does). */
export function condition(expression: string, contexts: Contexts, status: StatusReader): boolean {
  return truthy(evaluate(expression, contexts, status));
}
