import { marked } from 'marked';
import { afterEach, describe, expect, it } from 'vitest';
import {
  action,
  codeBlock,
  ConfigurationError,
  forMarkdown,
  forSlack,
  forTerminal,
  markdownCode,
  markdownLink,
  table,
  terminalJson,
} from '../src/action';
import { parseLockOwner } from '../src/hosts';
import { checklistSummary, procedureChecklist, type Needs } from '../src/pipeline';
import { statusLines, statusSummary, type HostStatus } from '../src/procedures';
import { commandsIn, parseCommand, readLines, tryParse, tryParseV2 } from './support/runner-commands';
import { stdoutOf } from './support/stdout';
import { forLog } from '../src/action/surfaces';
import { incidentIssue, type RollbackStory } from '../src/report/incident';
import { slackPayload } from '../src/report/notify';

/**
 * Text that leaves the process, one surface at a time: the same hostile texts go through each
 * surface, and each is checked against what reads it: the runner's own command parser (modelled
 * in support/runner-commands.ts), a terminal's control characters, a real Markdown renderer with
 * GitHub's extensions (marked, GFM) and GitHub's mention rule, Slack's mrkdwn.
 */

const HOSTILE = [
  '::error::x',
  '\u0085::add-mask::x',
  '\u2028::stop-commands::x',
  'x ##[add-mask]y',
  '##[error]z',
  '\x1b[2K\rlock: free',
  '\x1b]0;title\x07',
  '\x1b]52;c;Zm9v\x07',
  '\x9b31m',
  '@org/team',
  '[link](https://evil.example)',
  '![img](https://evil.example/x.png)',
  '<!-- hide',
  '# heading',
  '- [x] fake',
  '| a | b |',
  'one\rtwo',
  'one\ntwo',
  'one\r\ntwo',
];

/** Every hostile text alone, and all of them in one text, joined by each line break. */
const TEXTS = [...HOSTILE, ...['\n', '\r\n', '\r'].map((separator) => HOSTILE.join(separator))];

// eslint-disable-next-line no-control-regex
const CONTROL = /[\0-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

describe('the model of the runner', () => {
  it("parses as the runner's own tests say (ActionCommandL0)", () => {
    const commands = ['do-something'];
    expect(tryParse('##[do-something k1=v1;]msg', 'ordinal', commands)).toEqual({
      syntax: '##[',
      command: 'do-something',
      properties: { k1: 'v1' },
      data: 'msg',
    });
    expect(tryParse('##[do-something k1=%3B=%0D=%0A=%5D;]%3B-%0D-%0A-%5D', 'ordinal', commands)).toMatchObject({
      properties: { k1: ';=\r=\n=]' },
      data: ';-\r-\n-]',
    });
    expect(tryParse('>>>   ##[do-something k1=v1;]msg', 'ordinal', commands)).toMatchObject({
      command: 'do-something',
      data: 'msg',
    });
    expect(tryParseV2('::do-something k1=v1,::msg', 'ordinal', commands)).toEqual({
      syntax: '::',
      command: 'do-something',
      properties: { k1: 'v1' },
      data: 'msg',
    });
    expect(tryParseV2('::do-something k1=;=%2C=%0D=%0A=]=%3A,::;-%0D-%0A-]-:-,', 'ordinal', commands)).toMatchObject({
      properties: { k1: ';=,=\r=\n=]=:' },
      data: ';-\r-\n-]-:-,',
    });
    expect(tryParseV2('::do-something::', 'ordinal', commands)).toMatchObject({ command: 'do-something', data: '' });
    expect(readLines('a\rb\r\nc\nd')).toEqual(['a', 'b', 'c', 'd']);
  });

  it('finds the commands hidden in the hostile texts: .NET white space before ::, and ##[ anywhere', () => {
    expect(parseCommand('\u0085::add-mask::x')).toMatchObject({ command: 'add-mask', data: 'x' });
    expect(parseCommand('\u2028::stop-commands::x')).toMatchObject({ command: 'stop-commands' });
    expect(parseCommand('x ##[add-mask]y')).toMatchObject({ command: 'add-mask', data: 'y' });
    expect(parseCommand('##[error]z')).toMatchObject({ command: 'error', data: 'z' });
    expect(parseCommand('\u200b::error::x', 'icu')).toBeNull();
    expect(parseCommand('::ERROR::x')).toMatchObject({ command: 'ERROR' });
    expect(
      commandsIn(HOSTILE.join('\n'))
        .filter((found) => found.culture === 'ordinal')
        .map((found) => found.command),
    ).toEqual(['error', 'add-mask', 'stop-commands', 'add-mask', 'error']);
  });
});

describe('the runner log (forLog): log lines, annotations, group titles and the failure', () => {
  const exitCode = process.exitCode;
  const summary = process.env.GITHUB_STEP_SUMMARY;
  afterEach(() => {
    process.exitCode = exitCode;
    if (summary === undefined) delete process.env.GITHUB_STEP_SUMMARY;
    else process.env.GITHUB_STEP_SUMMARY = summary;
  });

  it('writes no line the runner runs as a command but its own, in either culture, and no control character', async () => {
    delete process.env.GITHUB_STEP_SUMMARY;
    for (const text of TEXTS) {
      const cases: Array<[string, () => Promise<void> | void, string[]]> = [
        ['info', () => action.logger.info(text), []],
        ['warn', () => action.logger.warn(text), ['warning']],
        ['notice', () => action.annotate.notice(text), ['notice']],
        ['error', () => action.annotate.error(text), ['error']],
        ['group', () => action.logger.group(text, async () => undefined), ['group', 'endgroup']],
        [
          'failure',
          () =>
            action.runAction(async () => {
              throw new ConfigurationError(text);
            }),
          ['error'],
        ],
        [
          'bug',
          () =>
            action.runAction(async () => {
              throw new Error(text);
            }),
          ['debug', 'error'],
        ],
      ];
      for (const [name, body, own] of cases) {
        const out = await stdoutOf(body);
        const found = commandsIn(out);
        expect(
          found.filter((command) => command.culture === 'ordinal').map((command) => command.command),
          `${name}: ${JSON.stringify(text)}`,
        ).toEqual(own);
        expect(
          found.filter((command) => command.culture === 'icu').map((command) => command.command),
          `${name} (ICU): ${JSON.stringify(text)}`,
        ).toEqual(own);
        expect(out, name).not.toMatch(CONTROL);
      }
    }
  });

  it('shows what it made inert rather than deleting it', () => {
    expect(forLog('::error::x')).toBe(':\\:error::x');
    expect(forLog('\u0085::add-mask::x')).toBe('\\x85::add-mask::x');
    expect(forLog('\u00a0 ::warning::x')).toBe('\u00a0 :\\:warning::x');
    expect(forLog('x ##[add-mask]y')).toBe('x ##\\[add-mask]y');
    expect(forLog('\x1b[2K\rlock: free')).toBe('\\x1b[2K\nlock: free');
    expect(forLog('\x9b31m red')).toBe('\\x9b31m red');
    expect(forLog('a\tb\nc')).toBe('a\tb\nc');
  });
});

describe('a terminal (forTerminal, terminalJson)', () => {
  it('lets no control character or escape sequence through: each is shown escaped, on the line it came with', () => {
    for (const text of TEXTS) {
      const shown = forTerminal(text);
      expect(shown, JSON.stringify(text)).not.toMatch(CONTROL);
      expect(shown.split('\n').length, JSON.stringify(text)).toBe(text.replace(/\r\n/g, '\n').split('\n').length);
    }
    expect(forTerminal('\x1b[2K\rlock: free')).toBe('\\x1b[2K\\x0dlock: free');
    expect(forTerminal('\x1b]0;title\x07')).toBe('\\x1b]0;title\\x07');
    expect(forTerminal('\x1b]52;c;Zm9v\x07')).toBe('\\x1b]52;c;Zm9v\\x07');
    expect(forTerminal('\x9b31m')).toBe('\\x9b31m');
    expect(forTerminal('a\tb\r\nc')).toBe('a\tb\nc');
  });

  it('keeps JSON whole: the same value, with C1 controls and separators as \\u escapes', () => {
    const value = { hosts: HOSTILE, nested: { text: '\x9b31m\u2028\u202e\u{e0041}' } };
    const json = terminalJson(value);
    expect(json).not.toMatch(CONTROL);
    expect(JSON.parse(json)).toEqual(value);
  });

  it("shows a lock owner's hostile fields as flags, so status prints no forged line", () => {
    const owner = parseLockOwner(
      JSON.stringify({
        token: 't',
        runId: 'run-1',
        actor: 'mallory',
        version: '\x1b[2K\rlock: free',
        phase: '\x1b]0;title\x07',
        time: '\x1b]52;c;Zm9v\x07',
      }),
    );
    expect(owner).toMatchObject({ runId: 'run-1', actor: 'mallory' });
    expect(owner?.version).toMatch(/^\(not a version label: '/);
    expect(owner?.phase).toMatch(/^\(not a known phase: '/);
    expect(owner?.time).toMatch(/^\(not an ISO time: '/);
    const good = {
      token: 't',
      runId: 'run-1',
      actor: 'alice',
      version: 'v1.2.3',
      phase: 'monitor canary',
      time: '2026-01-01T00:00:00.000Z',
    };
    expect(parseLockOwner(JSON.stringify(good))).toEqual(good);
    const status: HostStatus = {
      host: 'deploy@h1',
      error: null,
      served: { blue: 100, green: 0 },
      file: { blue: 100, green: 0 },
      active: 'blue',
      canary: null,
      colors: { blue: { version: 'v1', image: 'app:v1', status: 'running', port: 8001 }, green: null },
      pending: null,
      releases: [],
      rollbackPrevious: 'nothing to do',
      rollbackTo: [],
      lock: {
        runId: owner?.runId ?? '?',
        actor: owner?.actor ?? '?',
        phase: owner?.phase ?? '?',
        version: owner?.version ?? '?',
        since: owner?.time ?? '?',
        aliveSecondsAgo: 1,
      },
    };
    const lines = forTerminal(statusLines('shop', [status]).join('\n')).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(
      /^ {2}lock: held by run run-1 \(mallory, \(not a known phase: .*\) of \(not a version label: .*\)\), alive 1 s ago$/,
    );
    expect(lines.join('\n')).not.toMatch(CONTROL);
    expect(lines.filter((line) => line.includes('lock: free'))).toEqual([lines[2]]);
    // The step summary's table: the same fields, one row, inert.
    const html = render(statusSummary('shop', [status]));
    expect(html.match(/<tr>/g)).toHaveLength(2);
    expect(html).not.toMatch(CONTROL);
  });
});

/** GitHub Markdown as marked renders it with GitHub's extensions (tables, task lists, autolinks, strikethrough). */
const render = (markdown: string): string => marked.parse(markdown, { gfm: true, async: false });

/** The rendered text, as GitHub's mention rule sees it: tags dropped, entities decoded. */
function renderedText(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(
      /&(lt|gt|quot|amp|#39);/g,
      (_entity, name: string) => ({ lt: '<', gt: '>', quot: '"', amp: '&', '#39': "'" })[name] ?? '',
    )
    .trim();
}

/** The text a reader sees: the rendered text without the zero-width joiners forMarkdown adds. */
const textOf = (html: string): string => renderedText(html).replaceAll('\u200d', '');

/** GitHub's mention and issue reference rules, as they run on the rendered text (outside code and links). */
const MENTION = /(?:^|[^A-Za-z0-9_`])@[A-Za-z0-9][A-Za-z0-9-]*(?:\/[A-Za-z0-9][A-Za-z0-9-]*)?/;
const ISSUE_REFERENCE = /(?:^|[^A-Za-z0-9_&/])#\d+\b/;

/** What forMarkdown should show: the text on one line, control characters as escapes. */
const shownAs = (text: string): string =>
  text
    .replace(/\r\n|\r|\n/g, ' ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\0-\x1f\x7f-\x9f\u2028\u2029]/g, (char) =>
      char.charCodeAt(0) < 0x100
        ? `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`
        : `\\u${char.charCodeAt(0).toString(16)}`,
    )
    .trim();

/** Nothing but text: no element a value could have opened. */
function expectInert(html: string, label: string): void {
  expect(html, label).not.toMatch(/<(a|img|h[1-6]|ul|ol|blockquote|table|code|pre|em|strong|del|hr|input)\b/);
  expect(html, label).not.toContain('<!--');
  expect(renderedText(html), label).not.toMatch(MENTION);
  expect(renderedText(html), label).not.toMatch(ISSUE_REFERENCE);
}

describe('GitHub Markdown (forMarkdown): step summaries and issues', () => {
  it('renders each text as the text it is, on its line, wherever it stands', () => {
    for (const text of [
      ...TEXTS,
      'see www.evil.example or https://evil.example, mail a@b.example, fixes #12, $x^2$, **bold** _em_ ~~gone~~ `code`',
    ]) {
      const label = JSON.stringify(text);
      // Alone on a line: no heading, list, quote, table or HTML block.
      const alone = render(forMarkdown(text));
      expectInert(alone, label);
      expect(alone.match(/<p>/g), label).toHaveLength(1);
      expect(textOf(alone), label).toBe(shownAs(text));
      // In a task list item: one item, one checkbox.
      const item = render(`- [x] Canary validated — ${forMarkdown(text)}`);
      expect(item.match(/<li\b/g), label).toHaveLength(1);
      expect(item.match(/<input\b/g), label).toHaveLength(1);
      expectInert(item.replace(/<\/?(ul|li)>|<input [^>]*>/g, ''), label);
      // In a table cell: one row of two cells.
      const cells = render(table(['what', 'more'], [[text, 'z']]));
      expect(cells.match(/<td\b/g), label).toHaveLength(2);
      expect(textOf(cells.split('<tbody>')[1]!.split('</td>')[0]!), label).toBe(shownAs(text));
      expectInert(cells.split('<tbody>')[1]!.replace(/<\/?(tbody|tr|td|table)>/g, ''), label);
    }
  });

  it('keeps what this code writes: code for host labels, links it checked, code blocks', () => {
    expect(render(table(['host'], [[markdownCode('deploy@h1|x`y')]]))).toContain('<code>deploy@h1|x`y</code>');
    expect(markdownLink('the run', 'https://github.com/o/r/actions/runs/1').text).toBe(
      '[the run](https://github.com/o/r/actions/runs/1)',
    );
    expect(markdownLink('x', 'javascript:alert(1)').text).toBe('javascript:alert(1)');
    expect(render(markdownLink('x', 'https://github.com/o/r/a)b c').text)).toContain(
      'href="https://github.com/o/r/a%29b%20c"',
    );
    const block = codeBlock('````\n\x1b[31mred\n<!-- @org/team');
    expect(render(block)).toMatch(
      /^<pre><code class="language-text">````\n\\x1b\[31mred\n&lt;!-- @org\/team\n<\/code><\/pre>/,
    );
  });

  it('opens an incident issue whose body mentions no one and links nothing but the run', () => {
    const story: RollbackStory = {
      app: 'shop',
      environment: 'production',
      trigger: '@org/team [link](https://evil.example)',
      reason: '![img](https://evil.example/x.png) <!-- hide',
      severity: 'high',
      failedVersion: 'v2',
      targetVersion: 'v1',
      restoredMs: 1200,
      durationMs: 3000,
      figures: [
        { name: '# heading', observed: '- [x] fake', threshold: '| a | b |', window: '@org/team', status: '<!-- hide' },
      ],
      hosts: [
        {
          host: 'deploy@h1',
          phase: 'rollback',
          outcome: 'failed',
          fromColor: 'green',
          toColor: 'blue',
          version: 'v1',
          previousVersion: 'v2',
          weightsBefore: null,
          weightsAfter: null,
          switchMs: null,
          liveAt: null,
          smoke: [],
          steps: HOSTILE.map((detail, index) => ({ step: `step ${index}`, ok: false, ms: 1, detail })),
        },
      ],
      runUrl: 'https://github.com/o/r/actions/runs/7',
      decidedAt: 0,
      error: HOSTILE.join('\n'),
      candidates: ['v0'],
    };
    const html = render(incidentIssue(story).body);
    expect(html.match(/<a\b[^>]*>/g)).toEqual(['<a href="https://github.com/o/r/actions/runs/7">']);
    expect(html).not.toMatch(/<img\b|<!--|<h[12]\b/);
    expect(html.match(/<h3>/g)).toHaveLength(3);
    expect(html.match(/<tr>/g)).toHaveLength(2 + 2 + 1 + HOSTILE.length);
    expect(renderedText(html.replace(/<code>.*?<\/code>/g, ''))).not.toMatch(MENTION);
  });
});

describe("the checklist's summary: outputs are checked against what the jobs declare", () => {
  const good: Needs = {
    plan: {
      result: 'success',
      outputs: { kind: 'normal', gates: '["lint","typecheck","unit","integration","security-scan","load-test"]' },
    },
    gates: { result: 'success', outputs: {} },
    staging: { result: 'success', outputs: {} },
    production: {
      result: 'failure',
      outputs: {
        'canary-percent': '10',
        verdict: 'failure',
        reason: 'error-rate: canary 22% > 1%',
        rules: '[]',
        promoted: 'false',
        'rolled-back': 'true',
        'rollback-version': 'v1',
        'deployment-id': '42',
        'incident-url': 'https://github.com/o/r/issues/9',
      },
    },
    'post-deploy': { result: 'success', outputs: { health: 'success', notified: 'true' } },
  };
  const hostile = (outputs: Record<string, string>): Needs => ({
    ...good,
    production: { result: 'failure', outputs: { ...good.production!.outputs, ...outputs } },
  });

  it('leaves an item open, saying why, when a value is not of its form; one task per item whatever the outputs hold', () => {
    const needs = hostile({
      'canary-percent': '10% validated\n- [x] Fake done\n# Injected\n<!-- ',
      reason: HOSTILE.join('\n'),
      'deployment-id': '42\n- [x] also done',
      'rollback-version': 'v1 @org/team',
      'incident-url': 'garbage',
    });
    const items = procedureChecklist(needs);
    const byName = (name: string) => items.find((item) => item.item === name);
    expect(byName('Canary validated')).toMatchObject({
      state: 'not-done',
      because: expect.stringMatching(
        /^the production job's canary-percent output is not a whole percentage from 0 to 100: '10% validated\\n- \[x\] Fake done/,
      ),
    });
    expect(byName('Deployment logged')).toMatchObject({
      state: 'not-done',
      because: expect.stringMatching(/deployment-id output is not a GitHub deployment id/),
    });
    expect(byName('Rollback started')).toMatchObject({
      state: 'not-done',
      because: expect.stringMatching(/rollback-version output is not a version label/),
    });
    expect(byName('Incident created')).toMatchObject({
      state: 'not-done',
      because: "the production job's incident-url output is not an issue URL on https://github.com: 'garbage'",
    });
    const html = render(checklistSummary(items, 'https://github.com/o/r/actions/runs/7'));
    expect(html.match(/<li\b/g)).toHaveLength(items.length);
    expect(html.match(/<input checked=""/g) ?? []).toHaveLength(items.filter((item) => item.state === 'done').length);
    expect(html.match(/<h[1-6]\b/g)).toHaveLength(1 + 4);
    expect(html.match(/<a\b[^>]*>/g)).toEqual(['<a href="https://github.com/o/r/actions/runs/7">']);
    expect(html).not.toMatch(/<!--|<img\b/);
    expect(
      checklistSummary(items)
        .split('\n')
        .filter((line) => line.startsWith('<')),
    ).toEqual([]);
    expect(renderedText(html)).not.toMatch(MENTION);
  });

  it('ticks "Incident created" only for an issue on the GitHub server, and links it', () => {
    const incident = (url: string, serverUrl?: string) =>
      procedureChecklist(hostile({ 'incident-url': url }), serverUrl ? { serverUrl } : {}).find(
        (item) => item.item === 'Incident created',
      );
    expect(incident('https://github.com/o/r/issues/9')).toMatchObject({
      state: 'done',
      because: 'https://github.com/o/r/issues/9',
      link: 'https://github.com/o/r/issues/9',
    });
    for (const url of [
      'x',
      'https://evil.example/o/r/issues/9',
      'https://github.com.evil.example/o/r/issues/9',
      'https://github.com/o/r/pull/9',
      'https://github.com/o/r/issues/9?x=1',
      'http://github.com/o/r/issues/9',
      'https://user@github.com/o/r/issues/9',
      'javascript:alert(1)',
    ]) {
      expect(incident(url), url).toMatchObject({ state: 'not-done' });
      expect(incident(url)?.link, url).toBeUndefined();
    }
    expect(incident('https://github.example/o/r/issues/7', 'https://github.example')).toMatchObject({ state: 'done' });
    expect(render(checklistSummary([incident('https://github.com/o/r/issues/9')!]))).toContain(
      '<a href="https://github.com/o/r/issues/9">https://github.com/o/r/issues/9</a>',
    );
  });

  it('reads each output as declared: a percentage, a verdict, a flag, a job result', () => {
    const item = (outputs: Record<string, string>, name: string) =>
      procedureChecklist(hostile(outputs)).find((entry) => entry.item === name || entry.item.startsWith(name));
    expect(item({ 'canary-percent': '101' }, 'Canary')).toMatchObject({ item: 'Canary validated', state: 'not-done' });
    expect(item({ 'canary-percent': '25', verdict: 'success' }, 'Canary')).toMatchObject({
      item: 'Canary 25% validated',
      state: 'done',
    });
    expect(item({ verdict: 'success\n- [x] x' }, 'Canary')).toMatchObject({
      state: 'not-done',
      because: expect.stringMatching(/verdict output is not success, failure, inconclusive, error or aborted/),
    });
    expect(item({ 'rolled-back': 'yes' }, 'Rollback started')).toMatchObject({
      state: 'not-done',
      because: expect.stringMatching(/rolled-back output is not true or false: 'yes'/),
    });
    const weird = procedureChecklist({ ...good, staging: { result: 'success\n- [x] x', outputs: {} } }).find(
      (entry) => entry.item === 'Staging deployed',
    );
    expect(weird).toMatchObject({
      state: 'not-done',
      because: expect.stringMatching(/the staging job's result is not success, failure, cancelled or skipped/),
    });
  });
});

describe("Slack's mrkdwn (forSlack): as it was, from the one module", () => {
  it('opens no link or mention from text; only the run link is one', () => {
    expect(forSlack('<!channel> <@U1> <https://evil.example|x> &amp;')).toBe(
      '&lt;!channel&gt; &lt;@U1&gt; &lt;https://evil.example|x&gt; &amp;amp;',
    );
    const payload = JSON.stringify(
      slackPayload({
        event: 'failed',
        title: HOSTILE.join(' '),
        fields: { reason: '<!channel> <https://evil.example|click>' },
        error: HOSTILE.join('\n'),
        runUrl: 'https://github.com/o/r/actions/runs/7',
      }),
    );
    expect(payload.match(/</g)).toHaveLength(1);
    expect(payload).toContain('<https://github.com/o/r/actions/runs/7|workflow run>');
  });
});
