/**
 * The one way a value from outside (an input, a YAML document, a host's file, a metrics line)
 * appears in a message: escaped, so it cannot break the log line or pass for a workflow command,
 * and cut to a length.
 */

/** A text escaped as in a JSON string (no quotes around it), cut at `max` characters. */
export function printable(text: string, max = 60): string {
  const flat = JSON.stringify(text).slice(1, -1);
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/**
 * Any value as a message shows it: a text in quotes (escaped and cut), a number or boolean as it
 * is, and for a list or a mapping only what it is (a message names the field; the whole value
 * may be large or secret).
 */
export function show(value: unknown, max = 60): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${printable(value, max)}'`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}
