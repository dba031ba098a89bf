// Reading the template tokens GitHub's parser returns: a literal is taken as is, an expression
// token (the parser already turned `a ${{ x }} b` into `format('a {0} b', x)`) is evaluated.
import {
  isBasicExpression,
  isBoolean,
  isMapping,
  isNumber,
  isSequence,
  isString,
  type TemplateParseResult,
} from '@actions/workflow-parser';
import type { MappingToken, TemplateToken } from '@actions/workflow-parser/templates/tokens/index';
import { correctedToken } from './block-scalars';
import { dataToString, evaluate, fromData, type Contexts, type ExpressionData, type StatusReader } from './expressions';

/** Where a token sits, as GitHub words it: `file (Line: L, Col: C)`. */
export function where(file: string, token: TemplateToken | undefined): string {
  return token?.range ? `${file} (Line: ${token.range.start.line}, Col: ${token.range.start.column})` : file;
}

/** A token's value as plain JSON, every expression in it evaluated. */
export function evaluateToken(given: TemplateToken, contexts: Contexts, status?: StatusReader): unknown {
  const token = correctedToken(given);
  if (isBasicExpression(token)) return fromData(evaluate(token.expression, contexts, status));
  if (isString(token) || isBoolean(token) || isNumber(token)) return token.value;
  if (isSequence(token)) {
    const items: unknown[] = [];
    for (const item of token) items.push(evaluateToken(item, contexts, status));
    return items;
  }
  if (isMapping(token)) {
    const object: Record<string, unknown> = {};
    for (const pair of token)
      object[String(evaluateToken(pair.key, contexts, status))] = evaluateToken(pair.value, contexts, status);
    return object;
  }
  // A null token, or an `${{ insert }}`, which no workflow here uses.
  return null;
}

/** A token's value as the string GitHub gives a process (env:, with:, run:). */
export function evaluateString(given: TemplateToken, contexts: Contexts, status?: StatusReader): string {
  const token = correctedToken(given);
  if (isBasicExpression(token)) return dataToString(evaluate(token.expression, contexts, status));
  if (isString(token)) return token.value;
  if (isBoolean(token) || isNumber(token)) return String(token.value);
  const value = evaluateToken(token, contexts, status);
  return value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** The evaluator's own data for a token: keeps booleans and numbers typed (workflow_call inputs). */
export function evaluateTyped(
  given: TemplateToken,
  contexts: Contexts,
): ExpressionData | string | number | boolean | null {
  const token = correctedToken(given);
  if (isBasicExpression(token)) return evaluate(token.expression, contexts);
  if (isString(token) || isBoolean(token) || isNumber(token)) return token.value;
  return null;
}

/** Each key and value token of a mapping (empty when absent). */
export function entries(token: TemplateToken | undefined): Array<[string, TemplateToken, TemplateToken]> {
  if (!token || !isMapping(token)) return [];
  const found: Array<[string, TemplateToken, TemplateToken]> = [];
  for (const pair of token) found.push([isString(pair.key) ? pair.key.value : String(pair.key), pair.value, pair.key]);
  return found;
}

/** The value under `key` in a mapping token. */
export function child(token: TemplateToken | undefined, key: string): TemplateToken | undefined {
  return token && isMapping(token) ? (token as MappingToken).find(key) : undefined;
}

/** The items of a sequence token. */
export function items(token: TemplateToken | undefined): TemplateToken[] {
  if (!token || !isSequence(token)) return [];
  const found: TemplateToken[] = [];
  for (const item of token) found.push(item);
  return found;
}

/** A mapping of strings (env:, with:) evaluated. */
export function evaluateMapping(
  token: TemplateToken | undefined,
  contexts: Contexts,
  status?: StatusReader,
): Record<string, string> {
  return Object.fromEntries(entries(token).map(([key, value]) => [key, evaluateString(value, contexts, status)]));
}

/** The parser's errors, in GitHub's words (`file (Line: L, Col: C): message`). */
export function parseErrors(parsed: TemplateParseResult): string[] {
  return parsed.context.errors.getErrors().map((error) => error.message);
}
