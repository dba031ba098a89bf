// Every message the code can put in front of a person: the errors it raises, the annotations and
// warnings the actions print, the rollout events, the problems a check lists, and what the shell
// run on the hosts says when it stops. Read with TypeScript's own parser; the shell inside a
// string literal is read from that literal's text. Each message keeps its static text, with `…`
// for every part filled in at run time (`${…}` in a template, `$var` or `$(…)` in the shell).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const PLACEHOLDER = '…';

export interface Message {
  /** Path from the repository's root. */
  file: string;
  line: number;
  /** How it reaches a person, e.g. `new HostError`, `log.warn`, `event halted`, `die 37`, `echo todo=`. */
  via: string;
  /** The static text, `…` for each part filled in at run time. */
  text: string;
  /** The expression the text was read from, as written (names a relay in the exclusion list). */
  source: string;
}

/**
 * How each error class with a constructor of its own prints its message. `arg`: the argument that is
 * the message; `prefix`: what the class puts before it; `constructor`: the class builds its message
 * itself (its `super(…)` is read instead, and the places that raise it add nothing). A class with no
 * constructor (`class Refusal extends ConfigurationError {}`) prints as its base does.
 */
export const ERROR_CLASSES: Record<string, { arg: number; prefix?: string; fallback?: string } | 'constructor'> = {
  Error: { arg: 0 },
  ConfigurationError: { arg: 0 },
  Cancelled: { arg: 0, fallback: 'the run was cancelled' },
  HostError: { arg: 1, prefix: `${PLACEHOLDER}: ` },
  UnrecordedSwitchError: { arg: 1, prefix: `${PLACEHOLDER}: ` },
  // Printed as `line N: problem` when the line is known; the problem is the message.
  ExpositionError: { arg: 1 },
  LockHeld: 'constructor',
  StateUnreadable: 'constructor',
};

/** Calls that print an annotation (a warning, an error, a notice) or fail the step. */
const ANNOUNCERS = new Set(['warn', 'warning', 'error', 'notice', 'setFailed']);

/** Arrays whose items are shown as the reasons a step or a check failed. */
const PROBLEM_LISTS = /^(problems|warnings|failures)$/;

/** The parameter of a helper that takes a message: `requireInput(condition, name, message)`, `fail(ctx, message)`. */
const MESSAGE_PARAMETER = /^(message|problem)$/;

/** Shell variables whose text a `die` prints (die 20 "$checked", die 22 "… but $why; …"). */
const SHELL_TEXT_VARIABLES = ['checked', 'why'];

export function sourceFiles(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
      .map((name) => path.join(dir, name));
  const actions = readdirSync(path.join(root, 'actions')).flatMap((name) => {
    try {
      return walk(path.join('actions', name, 'src'));
    } catch {
      return [];
    }
  });
  // The operator's command line: scripts/agent-loop.ts, or its own package in cli/src.
  const cli = [
    ...(existsSync(path.join(root, 'cli/src')) ? walk('cli/src') : []),
    ...(existsSync(path.join(root, 'scripts/agent-loop.ts')) ? ['scripts/agent-loop.ts'] : []),
  ];
  return [...walk('packages/shared/src'), ...actions, ...cli].sort();
}

/** Adjacent placeholders (`… …`, `……`) say no more than one. */
function squeeze(text: string): string {
  return text.replace(/…(\s*…)+/g, PLACEHOLDER);
}

export interface ErrorClass {
  base: string;
  /** Whether it declares a constructor (and so may print its message its own way). */
  constructs: boolean;
}

/** The error classes declared in the files: every class that extends a known one, transitively. */
export function declaredErrorClasses(sources: readonly ts.SourceFile[]): Map<string, ErrorClass> {
  const declared = new Map<string, ErrorClass>();
  for (const source of sources) {
    const visit = (node: ts.Node): void => {
      if (ts.isClassDeclaration(node) && node.name) {
        const base = node.heritageClauses?.find((clause) => clause.token === ts.SyntaxKind.ExtendsKeyword)?.types[0]
          ?.expression;
        if (base && ts.isIdentifier(base))
          declared.set(node.name.text, { base: base.text, constructs: node.members.some(ts.isConstructorDeclaration) });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  const errors = new Map<string, ErrorClass>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const [name, found] of declared) {
      if (!errors.has(name) && (found.base === 'Error' || errors.has(found.base))) {
        errors.set(name, found);
        grew = true;
      }
    }
  }
  return errors;
}

/** How a class prints its message: its own entry in ERROR_CLASSES, else (with no constructor of its own) its base's. */
export function errorFormat(
  name: string,
  classes: ReadonlyMap<string, ErrorClass>,
): (typeof ERROR_CLASSES)[string] | undefined {
  const own = ERROR_CLASSES[name];
  if (own !== undefined) return own;
  const found = classes.get(name);
  return found && !found.constructs ? errorFormat(found.base, classes) : undefined;
}

/** Texts of the parameters of a helper at one of its call sites. */
type Bindings = ReadonlyMap<string, string>;

class Reader {
  constructor(private readonly source: ts.SourceFile) {}

  /**
   * The texts an expression can have: a conditional gives one text per branch, and so does a
   * `${label}` whose `label` is a constant choosing among string literals (`const what = code ===
   * 20 ? 'nginx rejected …' : …`). Anything computed is `…`.
   */
  texts(node: ts.Expression, bindings: Bindings = new Map(), depth = 0): string[] {
    const inner = unwrap(node);
    if (ts.isConditionalExpression(inner))
      return [...this.texts(inner.whenTrue, bindings, depth), ...this.texts(inner.whenFalse, bindings, depth)];
    if (ts.isStringLiteral(inner) || ts.isNoSubstitutionTemplateLiteral(inner)) return [inner.text];
    if (ts.isTemplateExpression(inner)) {
      let texts = [inner.head.text];
      for (const span of inner.templateSpans) {
        const parts = this.span(span.expression, bindings, depth);
        texts = texts.flatMap((text) => parts.map((part) => text + part + span.literal.text));
      }
      return texts.map(squeeze);
    }
    if (ts.isBinaryExpression(inner) && inner.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const right = this.texts(inner.right, bindings, depth);
      return this.texts(inner.left, bindings, depth).flatMap((left) => right.map((text) => squeeze(left + text)));
    }
    if (ts.isIdentifier(inner)) {
      const bound = bindings.get(inner.text);
      if (bound !== undefined) return [bound];
      const value = depth < 3 ? this.constant(inner) : undefined;
      if (value) return this.texts(value, bindings, depth + 1);
    }
    return [PLACEHOLDER];
  }

  /** One text (the first the expression can have). */
  text(node: ts.Expression, bindings: Bindings = new Map()): string {
    return this.texts(node, bindings)[0] ?? PLACEHOLDER;
  }

  /** Inside a template: a bound parameter, a constant of this file, or a label chosen among literals; else `…`. */
  private span(node: ts.Expression, bindings: Bindings, depth: number): string[] {
    const inner = unwrap(node);
    if (ts.isStringLiteral(inner) || ts.isNoSubstitutionTemplateLiteral(inner)) return [inner.text];
    if (ts.isIdentifier(inner)) {
      const bound = bindings.get(inner.text);
      if (bound !== undefined) return [bound];
      const value = depth < 3 ? this.constant(inner) : undefined;
      if (value && ts.isConditionalExpression(unwrap(value))) return literalLeaves(value) ?? [PLACEHOLDER];
      if (value) return this.texts(value, bindings, depth + 1);
    }
    return [PLACEHOLDER];
  }

  /** The string a `const` of this file (in an enclosing scope) holds, when it holds one. */
  private constant(name: ts.Identifier): ts.Expression | undefined {
    for (let scope: ts.Node | undefined = name.parent; scope; scope = scope.parent) {
      if (!(ts.isBlock(scope) || ts.isSourceFile(scope) || ts.isModuleBlock(scope))) continue;
      for (const statement of scope.statements) {
        if (!ts.isVariableStatement(statement) || !(statement.declarationList.flags & ts.NodeFlags.Const)) continue;
        for (const declaration of statement.declarationList.declarations) {
          if (
            ts.isIdentifier(declaration.name) &&
            declaration.name.text === name.text &&
            declaration.initializer &&
            isStringy(declaration.initializer)
          )
            return declaration.initializer;
        }
      }
    }
    return undefined;
  }

  line(node: ts.Node): number {
    return this.source.getLineAndCharacterOfPosition(node.getStart(this.source)).line + 1;
  }

  written(node: ts.Node): string {
    return node.getText(this.source).replace(/\s+/g, ' ');
  }
}

/** The string literals a chain of conditionals chooses among, or null when a branch is anything else. */
function literalLeaves(node: ts.Expression): string[] | null {
  const inner = unwrap(node);
  if (ts.isStringLiteral(inner) || ts.isNoSubstitutionTemplateLiteral(inner)) return [inner.text];
  if (!ts.isConditionalExpression(inner)) return null;
  const whenTrue = literalLeaves(inner.whenTrue);
  const whenFalse = literalLeaves(inner.whenFalse);
  return whenTrue && whenFalse ? [...whenTrue, ...whenFalse] : null;
}

function unwrap(node: ts.Expression): ts.Expression {
  let inner = node;
  while (ts.isParenthesizedExpression(inner) || ts.isAsExpression(inner) || ts.isNonNullExpression(inner))
    inner = inner.expression;
  return inner;
}

function isStringy(node: ts.Expression): boolean {
  const inner = unwrap(node);
  return (
    ts.isStringLiteral(inner) ||
    ts.isNoSubstitutionTemplateLiteral(inner) ||
    ts.isTemplateExpression(inner) ||
    ts.isConditionalExpression(inner) ||
    (ts.isBinaryExpression(inner) && inner.operatorToken.kind === ts.SyntaxKind.PlusToken)
  );
}

/** The name a call is made by: `warn` in `warn(…)`, `options.warn?.(…)` and `log.warn(…)`. */
function calleeName(call: ts.CallExpression): string | undefined {
  const callee = unwrap(call.expression);
  if (ts.isIdentifier(callee)) return callee.text;
  if (ts.isPropertyAccessExpression(callee)) return callee.name.text;
  return undefined;
}

/** The class a `new` makes: `new X(…)`, or either branch of `new (a ? X : Y)(…)`. */
function constructed(node: ts.NewExpression): string[] {
  const callee = unwrap(node.expression);
  if (ts.isIdentifier(callee)) return [callee.text];
  if (ts.isConditionalExpression(callee))
    return [callee.whenTrue, callee.whenFalse]
      .map(unwrap)
      .filter(ts.isIdentifier)
      .map((name) => name.text);
  return [];
}

/** The rollout events' kinds and their annotation level, from `EVENT_LEVEL` in report/events.ts. */
function eventLevels(sources: readonly ts.SourceFile[]): Map<string, string> {
  const levels = new Map<string, string>();
  for (const source of sources) {
    const visit = (node: ts.Node): void => {
      if (
        ts.isVariableDeclaration(node) &&
        ts.isIdentifier(node.name) &&
        node.name.text === 'EVENT_LEVEL' &&
        node.initializer &&
        ts.isObjectLiteralExpression(node.initializer)
      ) {
        for (const property of node.initializer.properties) {
          if (
            ts.isPropertyAssignment(property) &&
            ts.isStringLiteral(property.initializer) &&
            (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name))
          )
            levels.set(property.name.text, property.initializer.text);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return levels;
}

function propertyNamed(object: ts.ObjectLiteralExpression, name: string): ts.Expression | undefined {
  for (const property of object.properties) {
    if (
      ts.isPropertyAssignment(property) &&
      (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name)) &&
      property.name.text === name
    )
      return property.initializer;
    if (ts.isShorthandPropertyAssignment(property) && property.name.text === name) return property.name;
  }
  return undefined;
}

/** The receiver's last name: `problems` in `problems.push`, `outcome.problems.push`, `this.warnings.push`. */
function receiverName(expression: ts.Expression): string | undefined {
  const inner = unwrap(expression);
  if (ts.isIdentifier(inner)) return inner.text;
  if (ts.isPropertyAccessExpression(inner)) return inner.name.text;
  return undefined;
}

/** A function with a name: a declaration, or an arrow or function expression given to a `const`. */
function namedFunction(node: ts.Node): { name: string; parameters: string[]; exported: boolean } | undefined {
  const parameters = (fn: ts.SignatureDeclaration) =>
    fn.parameters.map((parameter) => (ts.isIdentifier(parameter.name) ? parameter.name.text : ''));
  if (ts.isFunctionDeclaration(node) && node.name)
    return {
      name: node.name.text,
      parameters: parameters(node),
      exported: !!node.modifiers?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword),
    };
  if (
    (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) &&
    ts.isVariableDeclaration(node.parent) &&
    ts.isIdentifier(node.parent.name)
  )
    return { name: node.parent.name.text, parameters: parameters(node), exported: false };
  return undefined;
}

/** Whether the expression uses a name bare (`message`, `${name}`), not as `name.field`. */
function usesBare(node: ts.Node, names: ReadonlySet<string>): boolean {
  if (ts.isIdentifier(node) && names.has(node.text)) {
    const parent = node.parent;
    return (
      !(ts.isPropertyAccessExpression(parent) && parent.name === node) &&
      !(ts.isPropertyAccessExpression(parent) && parent.expression === node)
    );
  }
  return ts.forEachChild(node, (child) => usesBare(child, names) || undefined) ?? false;
}

export interface Extraction {
  messages: Message[];
  /** Error classes found in the code (name → base). */
  errorClasses: Map<string, ErrorClass>;
  /** Rollout event kinds with their annotation level. */
  eventLevels: Map<string, string>;
}

/** A place that puts text in front of a person, before it is read. */
interface Carrier {
  reader: Reader;
  node: ts.Node;
  via: string;
  /** The expression that holds the text. */
  text: ts.Expression;
  prefix: string;
  /** The named function it stands in, when the text uses one of that function's parameters. */
  helper?: { name: string; parameters: string[]; exported: boolean };
}

/**
 * Reads every message. A carrier whose text uses the `message` parameter of the function it stands
 * in makes that function a message helper (`requireInput(cond, 'hosts', 'is required …')`,
 * `fail(ctx, 'lists more than 500 hosts')`): its messages are read at each call, with the message
 * as the call gives it (a call in the same file first, else an exported function of that name). A
 * helper no one calls keeps its own text.
 */
export function extractMessages(root: string): Extraction {
  const files = sourceFiles(root);
  const sources = files.map((file) =>
    ts.createSourceFile(
      file,
      readFileSync(path.join(root, file), 'utf8'),
      ts.ScriptTarget.Latest,
      true,
      ts.ScriptKind.TS,
    ),
  );
  const errorClasses = declaredErrorClasses(sources);
  const levels = eventLevels(sources);
  const known = new Set(['Error', ...errorClasses.keys()]);
  const carriers: Carrier[] = [];
  const messages: Message[] = [];

  for (const source of sources) {
    const file = source.fileName;
    const reader = new Reader(source);
    const carry = (node: ts.Node, via: string, text: ts.Expression, prefix = '') => {
      let helper: Carrier['helper'];
      for (let scope: ts.Node | undefined = node.parent; scope && !helper; scope = scope.parent) {
        const fn = namedFunction(scope);
        if (fn && usesBare(text, new Set(fn.parameters.filter((parameter) => MESSAGE_PARAMETER.test(parameter)))))
          helper = fn;
        if (ts.isFunctionLike(scope)) break;
      }
      carriers.push({ reader, node, via, text, prefix, ...(helper ? { helper } : {}) });
    };

    const visit = (node: ts.Node): void => {
      // Errors raised: `new X(…)` of an error class, thrown at once or later.
      if (ts.isNewExpression(node)) {
        const name = constructed(node).find((candidate) => known.has(candidate));
        if (name) {
          const format = errorFormat(name, errorClasses);
          if (format === undefined)
            throw new Error(
              `${file}:${reader.line(node)}: the error class ${name} has a constructor of its own and is not in ERROR_CLASSES (say how it prints its message)`,
            );
          if (format !== 'constructor') {
            const argument = node.arguments?.[format.arg];
            if (argument) carry(node, `new ${name}`, argument, format.prefix);
            else
              messages.push({
                file,
                line: reader.line(node),
                via: `new ${name}`,
                text: format.fallback ?? PLACEHOLDER,
                source: reader.written(node),
              });
          }
        }
      }
      // A class that builds its own message: what its constructor passes to super, read as its base class reads it.
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword) {
        const owner = ts.findAncestor(node, ts.isClassDeclaration);
        const name = owner?.name?.text;
        const base = name ? errorClasses.get(name)?.base : undefined;
        const format = base ? errorFormat(base, errorClasses) : undefined;
        const argument = format && format !== 'constructor' ? node.arguments[format.arg] : undefined;
        if (name && ERROR_CLASSES[name] === 'constructor' && format && format !== 'constructor' && argument)
          messages.push(
            ...reader.texts(argument).map((text) => ({
              file,
              line: reader.line(node),
              via: `${name} (its constructor)`,
              text: squeeze((format.prefix ?? '') + text),
              source: reader.written(argument),
            })),
          );
      }
      if (ts.isCallExpression(node)) {
        const name = calleeName(node);
        const first = node.arguments[0];
        // Annotations and warnings: log.warn, options.warn?.(…), warn(…), runner.setFailed, annotate.error…
        if (name && ANNOUNCERS.has(name) && first && !ts.isArrowFunction(first)) carry(node, name, first);
        // The reasons a check lists: problems.push(…), this.warnings.push(…).
        if (name === 'push' && ts.isPropertyAccessExpression(unwrap(node.expression))) {
          const list = receiverName((unwrap(node.expression) as ts.PropertyAccessExpression).expression);
          for (const item of node.arguments)
            if (list && PROBLEM_LISTS.test(list) && !ts.isObjectLiteralExpression(unwrap(item)))
              carry(item, `${list}.push`, item);
        }
        // A problem found in a value a person wrote (an input, a YAML document): ctx.addIssue({ message }).
        if (name === 'addIssue' && first && ts.isObjectLiteralExpression(first)) {
          const message = propertyNamed(first, 'message');
          if (message) carry(first, 'addIssue', message);
        }
      }
      if (ts.isObjectLiteralExpression(node)) {
        // A rollout event: { kind: 'halted', message: … } becomes an annotation at its kind's level.
        const kind = propertyNamed(node, 'kind');
        const message = propertyNamed(node, 'message');
        if (kind && ts.isStringLiteral(kind) && levels.has(kind.text) && message)
          carry(node, `event ${kind.text} (${levels.get(kind.text)})`, message);
        // A problem a check reports (the doctor's prerequisites, an unreadable state), a fatal set-up
        // line, or the error a result carries ({ ok: false, error: `ansible-playbook failed …` }).
        for (const key of ['problem', 'fatal', 'error']) {
          const value = propertyNamed(node, key);
          if (value && isStringy(value)) carry(value, `{ ${key} }`, value);
        }
      }
      // What failed a staging test: report.reason = …; for `items.map((item) => \`…\`).join(…)`, each item's text.
      if (
        ts.isBinaryExpression(node) &&
        node.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
        ts.isPropertyAccessExpression(node.left) &&
        node.left.name.text === 'reason'
      ) {
        const value = unwrap(node.right);
        const mapped =
          ts.isCallExpression(value) &&
          ts.isPropertyAccessExpression(value.expression) &&
          value.expression.name.text === 'join' &&
          ts.isCallExpression(value.expression.expression)
            ? value.expression.expression.arguments[0]
            : undefined;
        carry(
          node,
          'reason =',
          mapped && ts.isArrowFunction(mapped) && !ts.isBlock(mapped.body) ? mapped.body : node.right,
        );
      }
      // Shell run on the hosts, from the text of a string literal.
      if (ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node) || ts.isStringLiteral(node)) {
        const text = ts.isTemplateExpression(node)
          ? node.head.text + node.templateSpans.map((span) => `\${…}${span.literal.text}`).join('')
          : node.text;
        if (/\bdie [0-9]|echo "(todo|fatal)=|>&2/.test(text)) {
          for (const found of shellMessages(text))
            messages.push({
              file,
              line: reader.line(node) + found.line,
              via: found.via,
              text: found.text,
              source: found.source,
            });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }

  // A phase's result error, given to a function's `error` parameter: summarize('deploy', …, `no traffic was moved, because: …`).
  const errorParameters = new Map<string, number>();
  for (const source of sources) {
    const visit = (node: ts.Node): void => {
      const fn = namedFunction(node);
      if (
        fn &&
        fn.parameters.includes('error') &&
        (ts.isFunctionDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node))
      ) {
        const parameter = node.parameters[fn.parameters.indexOf('error')];
        if (parameter?.type && parameter.type.kind === ts.SyntaxKind.StringKeyword)
          errorParameters.set(fn.name, fn.parameters.indexOf('error'));
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  for (const source of sources) {
    const reader = new Reader(source);
    const visit = (node: ts.Node): void => {
      const name = ts.isCallExpression(node) ? calleeName(node) : undefined;
      const index = name ? errorParameters.get(name) : undefined;
      const argument = index !== undefined && ts.isCallExpression(node) ? node.arguments[index] : undefined;
      if (argument && isStringy(argument))
        messages.push(
          ...reader.texts(argument).map((text) => ({
            file: source.fileName,
            line: reader.line(node),
            via: `${name}(…, error)`,
            text,
            source: reader.written(argument),
          })),
        );
      ts.forEachChild(node, visit);
    };
    visit(source);
  }

  // The calls of each message helper, by name.
  const helpers = new Map<string, Carrier[]>();
  for (const carrier of carriers)
    if (carrier.helper) helpers.set(carrier.helper.name, [...(helpers.get(carrier.helper.name) ?? []), carrier]);
  const called = new Set<Carrier>();
  for (const source of sources) {
    const reader = new Reader(source);
    const visit = (node: ts.Node): void => {
      const name = ts.isCallExpression(node) ? calleeName(node) : undefined;
      const candidates = name ? helpers.get(name) : undefined;
      if (ts.isCallExpression(node) && candidates) {
        const local = candidates.filter((carrier) => carrier.node.getSourceFile() === source);
        for (const carrier of local.length > 0 ? local : candidates.filter((candidate) => candidate.helper?.exported)) {
          const bindings = new Map<string, string>();
          carrier.helper?.parameters.forEach((parameter, index) => {
            const argument = node.arguments[index];
            if (parameter && argument) bindings.set(parameter, reader.text(argument));
          });
          called.add(carrier);
          for (const text of carrier.reader.texts(carrier.text, bindings)) {
            messages.push({
              file: source.fileName,
              line: reader.line(node),
              via: `${carrier.via} via ${name}()`,
              text: squeeze(carrier.prefix + text),
              source: reader.written(node),
            });
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  for (const carrier of carriers) {
    if (called.has(carrier)) continue;
    const file = carrier.node.getSourceFile().fileName;
    for (const text of carrier.reader.texts(carrier.text))
      messages.push({
        file,
        line: carrier.reader.line(carrier.node),
        via: carrier.via,
        text: squeeze(carrier.prefix + text),
        source: carrier.reader.written(carrier.text),
      });
  }
  messages.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  return { messages, errorClasses, eventLevels: levels };
}

// ------------------------------------------------------------------------------------ the shell

/** The double-quoted word that starts at `text[start]` (a `"`): its body and where it ends. */
function quoted(text: string, start: number): { body: string; end: number } | null {
  let depth = 0;
  for (let i = start + 1; i < text.length; i++) {
    const char = text[i];
    if (char === '\\') {
      i++;
      continue;
    }
    if (char === '$' && text[i + 1] === '(') depth++;
    else if (char === ')' && depth > 0) depth--;
    else if (char === '"' && depth === 0) return { body: text.slice(start + 1, i), end: i + 1 };
  }
  return null;
}

/** A double-quoted shell word's static text: `$x`, `${…}`, `$(…)`, `$#` and `$1` are placeholders. */
export function shellText(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const char = body[i] as string;
    if (char === '\\' && i + 1 < body.length) {
      out += body[i + 1];
      i++;
    } else if (char === '$' && (body[i + 1] === '(' || body[i + 1] === '{')) {
      const open = body[i + 1] as string;
      const close = open === '(' ? ')' : '}';
      let depth = 0;
      let j = i + 1;
      for (; j < body.length; j++) {
        if (body[j] === open) depth++;
        else if (body[j] === close && --depth === 0) break;
      }
      out += PLACEHOLDER;
      i = j;
    } else if (char === '$' && /[A-Za-z_#?0-9@*]/.test(body[i + 1] ?? '')) {
      let j = i + 1;
      if (/[A-Za-z_]/.test(body[j] as string)) while (j < body.length && /[A-Za-z0-9_]/.test(body[j] as string)) j++;
      else j++;
      out += PLACEHOLDER;
      i = j - 1;
    } else {
      out += char;
    }
  }
  return squeeze(out);
}

/** A shell word: double-quoted (its text), or bare. */
function shellWord(text: string, at: number): { value: string; end: number } | null {
  if (text[at] === '"') {
    const found = quoted(text, at);
    return found ? { value: shellText(found.body), end: found.end } : null;
  }
  const bare = /^[^\s;|&)]+/.exec(text.slice(at));
  return bare ? { value: shellText(bare[0]), end: at + bare[0].length } : null;
}

interface ShellMessage {
  line: number;
  via: string;
  text: string;
  source: string;
}

/**
 * What a host script prints when it stops or reports: `die N "…"`; a wrapper defined as
 * `name() { die N "… $1 … $2"; }` and called `name A "B"`; the texts given to the variables a
 * `die` prints (SHELL_TEXT_VARIABLES); `echo "…" >&2` (an error line); and host-setup's
 * `echo "todo=…"` and `echo "fatal=…"`.
 */
export function shellMessages(script: string): ShellMessage[] {
  const found: ShellMessage[] = [];
  const lineOf = (at: number) => script.slice(0, at).split('\n').length - 1;
  const sourceAt = (at: number, end: number) => script.slice(at, end).replace(/\s+/g, ' ');
  const wrappers = new Map<string, { code: string; template: string }>();
  for (const match of script.matchAll(/(?:^|\n)\s*([a-z_]+)\(\) \{ die ([0-9]+) "/g)) {
    const start = (match.index ?? 0) + match[0].length - 1;
    const body = quoted(script, start);
    if (body) wrappers.set(match[1] as string, { code: match[2] as string, template: body.body });
  }
  for (const match of script.matchAll(/\bdie ([0-9]+) "/g)) {
    const start = (match.index ?? 0) + match[0].length - 1;
    const body = quoted(script, start);
    if (!body || [...wrappers.values()].some((wrapper) => wrapper.template === body.body)) continue;
    found.push({
      line: lineOf(match.index ?? 0),
      via: `die ${match[1]}`,
      text: shellText(body.body),
      source: sourceAt(match.index ?? 0, body.end),
    });
  }
  for (const [name, wrapper] of wrappers) {
    for (const match of script.matchAll(new RegExp(`(?:^|[\\n;|&()])\\s*${name} (?=["A-Za-z])`, 'g'))) {
      const at = (match.index ?? 0) + match[0].length;
      const first = shellWord(script, at);
      const second = first && script[first.end] === ' ' ? shellWord(script, first.end + 1) : null;
      if (!first || !second) continue;
      const text = shellText(wrapper.template.replace('$1', '\u0001').replace('$2', '\u0002'))
        .replace('\u0001', first.value)
        .replace('\u0002', second.value);
      found.push({
        line: lineOf(at),
        via: `${name} (die ${wrapper.code})`,
        text: squeeze(text),
        source: sourceAt(at - name.length - 1, second.end),
      });
    }
  }
  for (const variable of SHELL_TEXT_VARIABLES) {
    if (!new RegExp(`\\bdie [0-9]+ "[^"\\n]*\\$${variable}\\b`).test(script)) continue;
    for (const match of script.matchAll(new RegExp(`\\b${variable}="`, 'g'))) {
      const start = (match.index ?? 0) + match[0].length - 1;
      const body = quoted(script, start);
      if (body)
        found.push({
          line: lineOf(match.index ?? 0),
          via: `${variable}= (printed by die)`,
          text: shellText(body.body),
          source: sourceAt(match.index ?? 0, body.end),
        });
    }
  }
  for (const match of script.matchAll(/\becho "(?!\$[a-z_]+")/g)) {
    const start = (match.index ?? 0) + 'echo '.length;
    const body = quoted(script, start);
    if (body && /^\s*>&2/.test(script.slice(body.end)))
      found.push({
        line: lineOf(match.index ?? 0),
        via: 'echo >&2',
        text: shellText(body.body),
        source: sourceAt(match.index ?? 0, body.end),
      });
  }
  for (const match of script.matchAll(/\becho "(todo|fatal)=/g)) {
    const start = (match.index ?? 0) + 'echo '.length;
    const body = quoted(script, start);
    if (body)
      found.push({
        line: lineOf(match.index ?? 0),
        via: `echo ${match[1]}=`,
        text: shellText(body.body.slice(`${match[1]}=`.length)),
        source: sourceAt(match.index ?? 0, body.end),
      });
  }
  return found;
}

/**
 * The form two texts are compared in: placeholders (`…`, or `<name>` as the runbook writes them) are
 * one, quotes and case do not count, white space is one space, and placeholders and separators at
 * either end are dropped (`<host>: the lock …` matches a message the code prints after its host).
 */
export function normalize(text: string): string {
  const flat = squeeze(
    text
      .replace(/<[^<>\s][^<>]*>/g, PLACEHOLDER)
      .replace(/[‘’“”'"`]/g, '')
      .replace(/\s+/g, ' ')
      .toLowerCase(),
  );
  return flat.replace(/^[\s…:;,.-]+|[\s…:;,-]+$/g, '');
}
