import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { quote, renderTemplate, script, splitWords, templatePlaceholders, toShell } from '../src/hosts';

/** What a real shell makes of `sh -c 'printf %s "$1"' sh <quoted>`: the one word it received. */
function throughShell(shell: 'sh' | 'bash', quoted: string): string {
  return execFileSync(shell, ['-c', `sh -c 'printf %s "$1"' sh ${quoted}`], { encoding: 'utf8' });
}

/** The words a shell passes to a program for the command line `toShell(argv)`. */
function wordsThroughShell(argv: string[]): string[] {
  const out = execFileSync('sh', ['-c', toShell(['printf', '%s\\0', ...argv])], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

const HOSTILE = [
  '; rm -rf /',
  '$(id)',
  '`id`',
  '${HOME}',
  'line one\nline two\n',
  "it's",
  "''",
  "'; echo pwned; '",
  'héllo wörld ✓ 日本',
  '',
  ' leading and trailing ',
  'a\\b\\\\c',
  '"double" quotes',
  '*',
  '~',
  'x > /tmp/redirected',
  '-n',
  '\t',
  '!!',
];

describe('quote', () => {
  it.each(HOSTILE)('round-trips %j through a real sh and bash as one word', (word) => {
    expect(throughShell('sh', quote(word))).toBe(word);
    expect(throughShell('bash', quote(word))).toBe(word);
  });

  it('leaves plain words bare and wraps everything else', () => {
    expect(quote('nginx')).toBe('nginx');
    expect(quote('/etc/nginx/conf.d')).toBe('/etc/nginx/conf.d');
    expect(quote('ghcr.io/acme/app:1.2.3@sha256:abc')).toBe('ghcr.io/acme/app:1.2.3@sha256:abc');
    expect(quote('')).toBe("''");
    expect(quote('a b')).toBe("'a b'");
    expect(quote("it's")).toBe(`'it'\\''s'`);
  });

  it('refuses a NUL byte, which no shell word can carry', () => {
    expect(() => quote('a\0b')).toThrow(/NUL/);
  });
});

describe('toShell', () => {
  it('keeps every argv word intact through a real shell', () => {
    const argv = ['one', 'two words', '$(id)', "it's", '', 'new\nline', '; rm -rf /', '`uname`'];
    expect(wordsThroughShell(argv)).toEqual(argv);
  });

  it('keeps the commands of script() intact: the body and the values stay separate words', () => {
    const argv = script('al-test', 'printf "%s|" "$@"', ['$(id)', 'a b', "q'uote"]);
    expect(argv).toEqual(['sh', '-c', 'printf "%s|" "$@"', 'al-test', '$(id)', 'a b', "q'uote"]);
    const out = execFileSync('sh', ['-c', toShell(argv)], { encoding: 'utf8' });
    expect(out).toBe("$(id)|a b|q'uote|");
  });

  it('refuses an empty command', () => {
    expect(() => toShell([])).toThrow(/empty command/);
  });
});

describe('renderTemplate', () => {
  const values = { app: 'shop', color: 'blue', port: '8001', image: '$(touch /tmp/x) `id`', version: "1.0'; id; '" };

  it('fills placeholders with quoted values that a shell sees as single words', () => {
    const rendered = renderTemplate('printf "%s\\n" {app} {color} {port} {image} {version}', values);
    expect(rendered).toBe(`printf "%s\\n" shop blue 8001 '$(touch /tmp/x) \`id\`' '1.0'\\''; id; '\\'''`);
    const out = execFileSync('sh', ['-c', rendered], { encoding: 'utf8' });
    expect(out.split('\n').slice(0, -1)).toEqual(['shop', 'blue', '8001', '$(touch /tmp/x) `id`', "1.0'; id; '"]);
  });

  it('does not expand a placeholder that appears inside a value', () => {
    expect(renderTemplate('echo {app}', { app: '{color}', color: 'blue' })).toBe(`echo '{color}'`);
  });

  it('rejects an unknown placeholder and lists the known ones', () => {
    expect(() => renderTemplate('run {app} {tag}', { app: 'shop', color: 'blue' })).toThrow(
      'unknown placeholder {tag}; known: {app} {color}',
    );
  });

  it('leaves text that is not a placeholder alone', () => {
    expect(renderTemplate('echo {} {1} {APP} ${HOME}', {})).toBe('echo {} {1} {APP} ${HOME}');
  });

  it('lists the placeholders of a template', () => {
    expect(templatePlaceholders('start {app} {color} on {port}; {app}')).toEqual(['app', 'color', 'port', 'app']);
    expect(templatePlaceholders('no placeholders here {}')).toEqual([]);
  });
});

describe('splitWords', () => {
  it.each([
    ['nginx', ['nginx']],
    ['  sudo   nginx\t-p /opt/nginx/ \n', ['sudo', 'nginx', '-p', '/opt/nginx/']],
    [`nginx -c 'my conf/nginx.conf'`, ['nginx', '-c', 'my conf/nginx.conf']],
    ['say "a \\"quoted\\" word"', ['say', 'a "quoted" word']],
    [`a'b c'd`, ['ab cd']],
    [`'' ""`, ['', '']],
    ['a\\ b', ['a b']],
    [`'$(id)' "\${HOME}"`, ['$(id)', '${HOME}']],
    ['', []],
    ['trailing\\', ['trailing\\']],
  ])('splits %j', (line, words) => {
    expect(splitWords(line)).toEqual(words);
  });

  it('rejects an unterminated quote', () => {
    expect(() => splitWords(`nginx -p '/opt`)).toThrow(`unterminated ' quote`);
    expect(() => splitWords('nginx "-t')).toThrow('unterminated " quote');
  });

  it('undoes toShell', () => {
    const words = ['sudo', 'nginx', "it's", 'two words', '', 'new\nline', '$(id)'];
    expect(splitWords(toShell(words))).toEqual(words);
  });
});

describe('quotedPlaceholders', () => {
  it('finds placeholders that quotes or a backslash would expose to the shell', async () => {
    const { quotedPlaceholders } = await import('../src/hosts');
    expect(quotedPlaceholders('docker run "{image}"')).toEqual(['image']);
    expect(quotedPlaceholders("docker run '{image}'")).toEqual(['image']);
    expect(quotedPlaceholders('docker run \\{image}')).toEqual(['image']);
    expect(quotedPlaceholders('docker run -e "A=1" {image} "x"')).toEqual([]);
    expect(quotedPlaceholders('echo {app}-{color} > "/tmp/{port}.log"')).toEqual(['port']);
  });

  it('is why a double-quoted placeholder is refused: inside "…" a quoted value still runs $(…)', () => {
    const rendered = renderTemplate('printf %s "{image}"', { image: '$(echo pwned)' });
    expect(execFileSync('sh', ['-c', rendered], { encoding: 'utf8' })).toBe("'pwned'");
  });
});
