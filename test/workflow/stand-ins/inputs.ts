// Reading a step's `with:` values as the toolkit reads them, and the error that marks a mistake
// in the step (as opposed to a fault of the stand-in).
import type { StandInContext } from './index';

/** A failure the step's author can act on; `outputs` are those set before it (the real ones keep them too). */
export class StandInError extends Error {
  constructor(
    message: string,
    readonly outputs: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'StandInError';
  }
}

/** `with:` value, or `fallback` (the action's default) when absent or empty, as `core.getInput` after the runner applied defaults. */
export function stringInput(inputs: Record<string, string>, name: string, fallback = ''): string {
  const value = (inputs[name] ?? '').trim();
  return value === '' ? fallback : value;
}

export function requiredInput(inputs: Record<string, string>, name: string): string {
  const value = stringInput(inputs, name);
  if (!value) throw new StandInError(`Input required and not supplied: ${name}`);
  return value;
}

/** `core.getBooleanInput`: YAML 1.2 core-schema booleans only. */
export function booleanInput(inputs: Record<string, string>, name: string, fallback: boolean): boolean {
  const value = stringInput(inputs, name, String(fallback));
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw new StandInError(
    `Input does not meet YAML 1.2 "Core Schema" specification: ${name}\nSupport boolean input list: \`true | True | TRUE | false | False | FALSE\``,
  );
}

/**
 * docker/actions-toolkit's `getInputList`: one item per line, and per comma unless `ignoreComma`
 * (labels and build-args may hold commas); `#` lines are comments. Quoted items are not
 * unquoted here.
 */
export function listInput(
  inputs: Record<string, string>,
  name: string,
  opts: { ignoreComma?: boolean } = {},
): string[] {
  return stringInput(inputs, name)
    .split(/\r?\n/)
    .flatMap((line) => (opts.ignoreComma ? [line] : line.split(',')))
    .map((item) => item.trim())
    .filter((item) => item !== '' && !item.startsWith('#'));
}

/** `with:` values as a list of lines, as `core.getMultilineInput`. */
export function multilineInput(inputs: Record<string, string>, name: string): string[] {
  return stringInput(inputs, name)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * Says in the log which given inputs this stand-in does not act on, and warns of unknown ones as
 * the runner does, so that a reader of the log never assumes an input took effect.
 */
export function noteInputs(
  ctx: StandInContext,
  inputs: Record<string, string>,
  known: { handled: readonly string[]; ignored: Readonly<Record<string, string>> },
): void {
  const valid = [...known.handled, ...Object.keys(known.ignored)];
  const unexpected = Object.keys(inputs).filter((name) => !valid.includes(name));
  if (unexpected.length > 0)
    ctx.log(`Warning: Unexpected input(s) '${unexpected.join("', '")}', valid inputs are ['${valid.join("', '")}']`);
  for (const [name, why] of Object.entries(known.ignored)) {
    if (stringInput(inputs, name) !== '') ctx.log(`${name}: ignored by the stand-in (${why})`);
  }
}
