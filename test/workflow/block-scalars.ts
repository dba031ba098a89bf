// @actions/workflow-parser 0.3.61 builds the expression of a multi-line block scalar (`run: |`
// with `${{ }}` inside) from the scalar's raw source, indentation and all, where GitHub uses the
// YAML value. For each such token, the YAML value is read with the `yaml` package (the parser
// gives no access to it) and handed back to the parser as a one-line double-quoted scalar, so
// the parser itself splits it into format('...', ...) from the right text.
import { isBasicExpression, isMapping, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import type { BasicExpressionToken, TemplateToken } from '@actions/workflow-parser/templates/tokens/index';
import { TemplateToken as TokenClass } from '@actions/workflow-parser/templates/tokens/template-token';
import { isScalar, LineCounter, parseDocument, visit } from 'yaml';
import { child, items } from './template';

const corrected = new WeakMap<TemplateToken, TemplateToken>();

/** The token to evaluate in place of `token` (itself unless it was corrected). */
export function correctedToken(token: TemplateToken): TemplateToken {
  return corrected.get(token) ?? token;
}

/** The YAML value of each block scalar, by the line and column where it starts. */
function blockValues(content: string): Map<string, string> {
  const lineCounter = new LineCounter();
  const document = parseDocument(content, { lineCounter });
  const values = new Map<string, string>();
  visit(document, {
    Scalar(_key, node) {
      if (!isScalar(node) || !node.range || typeof node.value !== 'string') return;
      if (node.type !== 'BLOCK_LITERAL' && node.type !== 'BLOCK_FOLDED') return;
      const { line, col } = lineCounter.linePos(node.range[0]);
      values.set(`${line}:${col}`, node.value);
    },
  });
  return values;
}

/** The parser's expression for `value` written as a one-line scalar of a step's run:. */
function reparse(value: string): TemplateToken | undefined {
  const content = `on: push\njobs:\n  x:\n    runs-on: x\n    steps:\n      - run: ${JSON.stringify(value)}\n`;
  const parsed = parseWorkflow({ name: 'block-scalar', content }, new NoOperationTraceWriter());
  return child(items(child(child(child(parsed.value, 'jobs'), 'x'), 'steps'))[0], 'run');
}

/** Registers a corrected token for every multi-line block-scalar expression of a parsed workflow. */
export function correctBlockScalars(root: TemplateToken, content: string): void {
  let values: Map<string, string> | undefined;
  for (const [, token] of TokenClass.traverse(root)) {
    if (!isBasicExpression(token) || isMapping(token)) continue;
    const expression = token as BasicExpressionToken;
    const range = expression.range;
    if (!range || expression.blockScalarHeader === undefined || range.start.line === range.end.line) continue;
    values ??= blockValues(content);
    const value = values.get(`${range.start.line}:${range.start.column}`);
    const replacement = value === undefined ? undefined : reparse(value);
    if (replacement) corrected.set(token, replacement);
  }
}
