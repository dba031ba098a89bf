import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The README's YAML snippets that come from `examples/` cannot drift from the files: a snippet
 * marked `<!-- snippet: examples/FILE -->` must be that file, or an exact excerpt of it (whole
 * lines, in order, with at most a common indentation removed), and a snippet whose paragraph names
 * an example file (as "copy examples/deploy-main.yml" does) must carry that mark. The check is a
 * pure function run on the real README and on bad samples, so it is shown to fail.
 */

const root = join(import.meta.dirname, '..');
const MARK = /^<!-- snippet: (examples\/[\w.-]+\.ya?ml) -->$/;
const EXAMPLE = /examples\/[\w.-]+\.ya?ml/g;

interface Snippet {
  /** 1-based line of the opening fence. */
  line: number;
  text: string;
  /** The file named by the mark just before the fence, if any. */
  marked: string | null;
  /** Example files the paragraph before the fence names. */
  named: string[];
}

function yamlSnippets(markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  for (let index = 0; index < lines.length; index++) {
    const fence = /^(\s*)```ya?ml\s*$/.exec(lines[index]!);
    if (!fence) continue;
    const indent = fence[1]!;
    const body: string[] = [];
    let end = index + 1;
    for (; end < lines.length && lines[end]!.trim() !== '```'; end++)
      body.push(lines[end]!.startsWith(indent) ? lines[end]!.slice(indent.length) : lines[end]!);
    let before = index - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const marked = before >= 0 ? (MARK.exec(lines[before]!.trim())?.[1] ?? null) : null;
    if (marked) before--;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const paragraph: string[] = [];
    for (; before >= 0 && lines[before]!.trim() !== '' && !lines[before]!.trim().startsWith('```'); before--)
      paragraph.unshift(lines[before]!);
    snippets.push({
      line: index + 1,
      text: body.join('\n'),
      marked,
      named: [...new Set(paragraph.join('\n').match(EXAMPLE) ?? [])],
    });
    index = end;
  }
  return snippets;
}

/** True when `snippet` is `file`, or whole lines of it in a row with one indentation taken off. */
function isExcerpt(snippet: string, file: string): boolean {
  const wanted = snippet.replace(/\n+$/, '').split('\n');
  const lines = file.replace(/\n+$/, '').split('\n');
  for (let start = 0; start + wanted.length <= lines.length; start++) {
    const first = lines[start]!;
    const indent = first.slice(
      0,
      first.length - first.trimStart().length - (wanted[0]!.length - wanted[0]!.trimStart().length),
    );
    if (first !== indent + wanted[0]) continue;
    if (
      wanted.every((line, offset) =>
        line === '' ? lines[start + offset]!.trim() === '' : lines[start + offset] === indent + line,
      )
    )
      return true;
  }
  return false;
}

function snippetProblems(markdown: string, readExample: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const snippet of yamlSnippets(markdown)) {
    const where = `README line ${snippet.line}`;
    if (!snippet.marked) {
      if (snippet.named.length > 0)
        problems.push(
          `${where}: the paragraph names ${snippet.named.join(', ')}, but the snippet has no <!-- snippet: examples/… --> mark`,
        );
      continue;
    }
    const file = readExample(snippet.marked);
    if (file === undefined) problems.push(`${where}: ${snippet.marked} does not exist`);
    else if (!isExcerpt(snippet.text, file))
      problems.push(`${where}: differs from ${snippet.marked} (not the file, nor an exact excerpt of it)`);
  }
  return problems;
}

const readExample = (path: string) =>
  existsSync(join(root, path)) ? readFileSync(join(root, path), 'utf8') : undefined;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

it('every README snippet said to come from examples/ is that file, or an exact excerpt of it', () => {
  expect(snippetProblems(readme, readExample)).toEqual([]);
});

it('the three adoption steps show the example files they tell you to copy, whole', () => {
  const adoption = readme.slice(
    readme.indexOf('## Adopting it: three steps'),
    readme.indexOf('## Using `blue-green` in a workflow'),
  );
  const shown = yamlSnippets(adoption).map((snippet) => snippet.marked);
  expect(shown).toEqual(['examples/host-setup.yml', 'examples/deploy-main.yml']);
  for (const snippet of yamlSnippets(adoption)) expect(`${snippet.text}\n`).toBe(readExample(snippet.marked!));
  // The deploy snippet carries what the staging job and an unprivileged deploy user need.
  expect(readExample('examples/deploy-main.yml')).toMatch(/^ {6}staging-hosts: \S/m);
  expect(readExample('examples/deploy-main.yml')).toMatch(
    /^ {6}nginx-command: sudo -n \/usr\/local\/sbin\/agent-loop-nginx$/m,
  );
});

describe('the check fails on bad samples', () => {
  const example = (path: string) =>
    path === 'examples/deploy-main.yml'
      ? 'jobs:\n  deploy:\n    with:\n      app: agent-loop\n      staging-hosts: deploy@10.0.1.11\n      split-key: $request_id\n'
      : undefined;

  it('a snippet that leaves a line of its example out (staging-hosts, as the README once did), or names a file that does not exist', () => {
    const drifted = [
      'Copy it.',
      '',
      '<!-- snippet: examples/deploy-main.yml -->',
      '```yaml',
      'jobs:',
      '  deploy:',
      '    with:',
      '      app: agent-loop',
      '      split-key: $request_id',
      '```',
      '',
      '<!-- snippet: examples/nope.yml -->',
      '```yaml',
      'a: 1',
      '```',
      '',
    ].join('\n');
    expect(snippetProblems(drifted, example)).toEqual([
      'README line 4: differs from examples/deploy-main.yml (not the file, nor an exact excerpt of it)',
      'README line 13: examples/nope.yml does not exist',
    ]);
  });

  it('a snippet whose paragraph says to copy an example file, without the mark', () => {
    const unmarked =
      'Copy [`examples/deploy-main.yml`](examples/deploy-main.yml) to `.github/workflows/`:\n\n```yaml\njobs:\n  deploy:\n```\n';
    expect(snippetProblems(unmarked, example)).toEqual([
      'README line 3: the paragraph names examples/deploy-main.yml, but the snippet has no <!-- snippet: examples/… --> mark',
    ]);
  });

  it('accepts the whole file, and an excerpt taken out of its indentation (in a list item, too)', () => {
    expect(
      snippetProblems(
        [
          '<!-- snippet: examples/deploy-main.yml -->',
          '```yaml',
          'jobs:',
          '  deploy:',
          '    with:',
          '      app: agent-loop',
          '      staging-hosts: deploy@10.0.1.11',
          '      split-key: $request_id',
          '```',
          '',
        ].join('\n'),
        example,
      ),
    ).toEqual([]);
    expect(
      snippetProblems(
        '1. Step:\n   <!-- snippet: examples/deploy-main.yml -->\n   ```yaml\n   with:\n     app: agent-loop\n   ```\n',
        example,
      ),
    ).toEqual([]);
    expect(
      snippetProblems(
        '<!-- snippet: examples/deploy-main.yml -->\n```yaml\napp: agent-loop\nstaging-hosts: other\n```\n',
        example,
      ),
    ).toHaveLength(1);
  });
});

describe("the README's step 2 and what the examples read", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const step2 = readme.slice(readme.indexOf('**2. Add the secrets and variables**'), readme.indexOf('**3. '));
  /** Names in the first column of step 2's table, with their kind. */
  const table = new Map<string, string>();
  for (const row of step2.split('\n').filter((line) => line.startsWith('| `'))) {
    const [names, kind] = row
      .split('|')
      .slice(1, 3)
      .map((cell) => cell.trim());
    for (const name of names!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) table.set(name[1]!, kind!);
  }
  const examples = ['deploy-main', 'hotfix', 'train-model', 'release', 'rollback', 'maintenance', 'host-setup'].map(
    (name) => readFileSync(join(root, 'examples', `${name}.yml`), 'utf8'),
  );
  const used = (context: 'vars' | 'secrets') =>
    new Set(
      examples.flatMap((text) =>
        [...text.matchAll(new RegExp(`${context}\\.([A-Z][A-Z0-9_]*)`, 'g'))].map((found) => found[1]!),
      ),
    );

  it('lists every variable and secret the examples read, as the kind they are read as', () => {
    expect([...used('vars')].filter((name) => table.get(name) !== 'variable')).toEqual([]);
    expect([...used('secrets')].filter((name) => table.get(name) !== 'secret')).toEqual([]);
  });

  it('lists the variables the adoption scenario sets, and no example reads one it does not list', async () => {
    const { variables } = await import('./pipeline/scenarios');
    // Only the names matter here: a world whose hosts and registry are placeholders.
    const host = {
      sshPort: 22,
      bluePort: 8001,
      greenPort: 8002,
      statusPort: 8099,
      stateDir: '/s',
      nginxConfDir: '/c',
      nginxPrefix: '/n',
      accessLog: '/l.log',
      proxyUrl: 'http://h',
    };
    const world = {
      production: [host, host],
      staging: host,
      user: 'deploy',
      imageRepository: 'registry.example/agent-loop',
    };
    const names = Object.keys(variables(world as never));
    expect(names.filter((name) => table.get(name) !== 'variable')).toEqual([]);
  });
});
