/**
 * The one place where values become shell words. Everything sent to a host is an argv array;
 * `toShell` quotes each word so that no value is ever interpreted by the remote shell.
 */
export type Argv = readonly string[];

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quote(word: string): string {
  if (word.includes('\0')) throw new Error('a shell word cannot contain a NUL byte');
  if (word !== '' && SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export function toShell(argv: Argv): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(quote).join(' ');
}

/** Runs a constant script with values as positional parameters: `sh -c SCRIPT NAME ARG...`. */
export function script(name: string, body: string, args: readonly string[]): Argv {
  return ['sh', '-c', body, name, ...args];
}

/**
 * Fills `{name}` placeholders of a user's command template with quoted values. The template is
 * the workflow author's text and runs in a shell; the values (image, version, ...) may come from
 * untrusted places and are quoted, so they stay single words whatever they contain.
 */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{([a-z][a-z-]*)\}/g, (match, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new Error(
        `unknown placeholder ${match}; known: ${Object.keys(values)
          .map((k) => `{${k}}`)
          .join(' ')}`,
      );
    return quote(value);
  });
}

/**
 * Placeholders that stand inside quotes or after a backslash in a template. Such a placeholder would
 * defeat the quoting (a value inside "…" could expand `$(…)`), so templates with one are refused.
 */
export function quotedPlaceholders(template: string): string[] {
  const found: string[] = [];
  let quoteChar: '"' | "'" | null = null;
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    if (c === '\\' && quoteChar !== "'") {
      const next = /^\{([a-z][a-z-]*)\}/.exec(template.slice(i + 1));
      if (next) found.push(next[1] as string);
      i++;
      continue;
    }
    if (quoteChar === null && (c === '"' || c === "'")) quoteChar = c;
    else if (c === quoteChar) quoteChar = null;
    else if (quoteChar !== null && c === '{') {
      const match = /^\{([a-z][a-z-]*)\}/.exec(template.slice(i));
      if (match) found.push(match[1] as string);
    }
  }
  return found;
}

export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(/\{([a-z][a-z-]*)\}/g)].map((m) => m[1] as string);
}

/** Splits a simple command line (words, single and double quotes, backslash) into argv. No expansions. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quoteChar: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quoteChar) {
      if (c === quoteChar) quoteChar = null;
      else if (c === '\\' && quoteChar === '"' && i + 1 < line.length) current += line[++i];
      else current += c;
    } else if (c === "'" || c === '"') {
      quoteChar = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      current += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quoteChar) throw new Error(`unterminated ${quoteChar} quote`);
  if (inWord) words.push(current);
  return words;
}
