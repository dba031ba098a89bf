// docs/runbook.md is the on-call page: every message the code can print, grouped by what the person
// sees, each with what it means and what to run. This test reads every message from the code
// (test/support/messages.ts, with TypeScript's own parser) and holds the page to it: a message with
// no entry, an entry whose message the code no longer prints, or a command, flag, workflow or input
// the page names that does not exist, fails it.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CLASSES, extractMessages, normalize, type Extraction, type Message } from './support/messages';

const root = path.resolve(import.meta.dirname, '..');
const RUNBOOK = 'docs/runbook.md';

/**
 * Messages with no entry of their own, each with why: an internal check no input, host or run can
 * trip, or a place that only passes on a text the page lists where it is made. Named by file and
 * by the expression the text is read from, as written with its white space collapsed (and, where that expression has several
 * texts, by the one excluded, normalized).
 */
const EXCLUDED: ReadonlyArray<{ file: string; source: string; text?: string; why: string }> = [
  // Relays: the text is another message's, listed where it is made.
  {
    file: 'actions/blue-green/src/main.ts',
    source: 'result.error ?? `${inputs.phase} failed`',
    why: "relay: the phase's own error (its host's message), listed where it is made",
  },
  {
    file: 'actions/compare-metrics/src/main.ts',
    source: 'failureMessage(result)',
    why: 'relay: failureMessage builds "Candidate model fails on …" outside any carrier; the page lists it under staging and models',
  },
  {
    file: 'actions/deploy-staging/src/main.ts',
    source: 'report.reason',
    why: "relay: the staging report's reason (deploy failed / smoke check / load test), listed where it is set",
  },
  {
    file: 'actions/host-setup/src/main.ts',
    source: "outcome.problems.join('\\n')",
    why: "relay: the doctor's findings, each listed where it is made",
  },
  {
    file: 'actions/maintenance/src/main.ts',
    source: "problems.join('\\n')",
    why: "relay: each host's prune, rotation or upgrade error, listed where it is made",
  },
  {
    file: 'actions/rollback/src/main.ts',
    source: 'rollbackFailure(outcome)',
    why: "relay: the rollback method's error, listed where it is made",
  },
  {
    file: 'packages/shared/src/action/action.ts',
    source: 'forLog(message)',
    why: 'relay: annotate.notice/warning/error and logger.warn print texts made elsewhere',
  },
  {
    file: 'packages/shared/src/action/action.ts',
    source: 'forLog(error.message)',
    why: "relay: setFailed with a ConfigurationError's own message",
  },
  {
    file: 'packages/shared/src/action/action.ts',
    source: 'forLog(errorMessage(error))',
    why: "relay: setFailed with any other error's own message",
  },
  {
    file: 'packages/shared/src/action/log.ts',
    source: '`warning: ${forTerminal(message)}`',
    why: "relay: the terminal's prefix for a warning made elsewhere",
  },
  { file: 'cli/src/terminal.ts', source: '` ${reason}`', why: "relay: each host's refusal, listed where it is made" },
  {
    file: 'cli/src/main.ts',
    source: "`Input '${name}': ${message}`",
    why: "relay: a command's required option (deploy's image and version), Input '<name>': is required: …; the page names them in prose",
  },
  {
    file: 'packages/shared/src/action/registry.ts',
    source: "`Input '${this.input}': ${this.unknown(name)}`",
    why: "relay: an unknown implementation name, printed as Input '<input>': expected one of …, got '<name>' (the page's input entries)",
  },
  {
    file: 'packages/shared/src/analysis/policy.ts',
    source: 'message',
    why: 'relay: each policy problem, listed where it is pushed',
  },
  {
    file: 'packages/shared/src/analysis/run.ts',
    source: 'String(error)',
    why: 'relay: a thrown value that was not an Error, wrapped',
  },
  {
    file: 'packages/shared/src/analysis/sources/host.ts',
    source: '(error as Error).message',
    why: "relay: the memory command's own error, wrapped with the host",
  },
  {
    file: 'packages/shared/src/analysis/sources/log-mark.ts',
    source: '`exit ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 300)}`',
    why: 'printed only inside the warning "could not mark the access log … (exit …: …)"',
  },
  {
    file: 'packages/shared/src/analysis/sources/access-log.ts',
    source: '(result.reason as Error).message ?? String(result.reason)',
    why: "relay: each host's read error, listed where it is made",
  },
  {
    file: 'packages/shared/src/fleet/session.ts',
    source: '`${this.label}: ${warning}`',
    why: 'relay: a warning the lock heartbeat returns, listed where it is made',
  },
  {
    file: 'packages/shared/src/inputs/inputs.ts',
    source: "problems.join('\\n')",
    why: "relay: one Input '<name>': <problem> line per refused input",
  },
  {
    file: 'packages/shared/src/inputs/inputs.ts',
    source: "`Input '${name}': ${parsed.error.issues.map((issue) => issue.message).join('; ')}`",
    why: 'relay: the prefix of every input problem; the problems are listed where they are made',
  },
  {
    file: 'packages/shared/src/inputs/host-settings.ts',
    source: 'fail(ctx, (error as Error).message)',
    why: "relay: the hosts, known_hosts or nginx-command parser's own message, listed where it is made",
  },
  {
    file: 'packages/shared/src/inputs/inputs.ts',
    source: "`${documentProblems(parsed.error, INPUT_DOCUMENT).join('; ')}; expected ${form}`",
    why: 'relay: the problems of a YAML input, each listed where it is made',
  },
  {
    file: 'packages/shared/src/inputs/monitor-inputs.ts',
    source: '(error as Error).message',
    why: "relay: a Prometheus query template's problem, listed where it is made",
  },
  {
    file: 'packages/shared/src/inputs/inputs.ts',
    source: 'fail(ctx, registry.unknown(value))',
    why: "relay: Registry.unknown's text, expected one of <names>, got '<value>' (the page's input entries)",
  },
  {
    file: 'packages/shared/src/inputs/monitor-inputs.ts',
    source:
      "typeof value === 'string' ? registry.unknown(value) : `expected one of ${registry.names().join(', ')}, got ${show(value)}`",
    text: '',
    why: "relay: Registry.unknown's text, expected one of <names>, got '<value>' (the page's input entries)",
  },
  {
    file: 'packages/shared/src/pipeline/metric-rules.ts',
    source: "problems.join('; ')",
    why: "relay: the metric rules' problems, each listed where it is made",
  },
  {
    file: 'packages/shared/src/procedures/deploy.ts',
    source: 'message',
    why: "relay: the log mark's warning, listed where it is made",
  },
  {
    file: 'packages/shared/src/procedures/deploy-host.ts',
    source: '`${session.label}: ${warning}`',
    why: 'relay: the server-block warnings of preflight, listed where they are made',
  },
  {
    file: 'packages/shared/src/report/host-setup.ts',
    source: 'formatPrerequisites(label, result.value)',
    why: "relay: the doctor's findings, each listed where it is made",
  },
  {
    file: 'packages/shared/src/report/host-setup.ts',
    source: '`${label}: ${errorMessage(result.error)}`',
    why: "relay: a host's set-up error, listed where it is made",
  },
  {
    file: 'packages/shared/src/report/host-setup.ts',
    source: '`${label}: ${report.fatal}`',
    why: 'relay: a fatal set-up line, listed where it is made',
  },
  {
    file: 'packages/shared/src/report/host-setup.ts',
    source: '`${label}: ${item.what}`',
    why: 'relay: a todo set-up line, listed where it is made',
  },
  {
    file: 'packages/shared/src/rollback/restore-host.ts',
    source: 'plan.warning',
    why: "relay: the rollback plan's warning, listed where it is made",
  },
  {
    file: 'packages/shared/src/runtime/preflight.ts',
    source: 'formatPrerequisites(remote.label, missing)',
    why: "relay: the doctor's findings, each listed where it is made",
  },
  {
    file: 'packages/shared/src/runtime/doctor.ts',
    source: 'formatPrerequisites(remote.label, missing)',
    why: "relay: the doctor's findings, each listed where it is made",
  },
  {
    file: 'packages/shared/src/traffic/nginx-helper.ts',
    source: 'die 20 "$checked"',
    why: "relay: the check's verdict, listed where $checked is set",
  },
  {
    file: 'packages/shared/src/inputs/monitor-inputs.ts',
    source: "'expected a mapping'",
    why: "printed only inside Input 'policy': is not a valid YAML mapping (expected a mapping)",
  },
  {
    file: 'packages/shared/src/pipeline/event.ts',
    source: "'too large'",
    why: 'caught at once: the person sees "GITHUB_EVENT_PATH: the event payload is not a readable JSON file"',
  },
  {
    file: 'packages/shared/src/traffic/nginx-helper.ts',
    source: 'checked="valid include=$include_dir"',
    why: "not an error: the check's answer when nginx accepts its configuration",
  },
  {
    file: 'packages/shared/src/hosts/lock.ts',
    source: 'echo "the lock has an owner now"',
    why: 'handled: exit 5 makes the next attempt read the owner, who is then named',
  },
  {
    file: 'packages/shared/src/hosts/lock.ts',
    source: 'echo "the lock came back to life"',
    why: 'handled: exit 5 makes the next attempt read the owner, who is then named',
  },
  {
    file: 'packages/shared/src/report/monitor-summary.ts',
    source: "'⛔ error'",
    why: "not a message: the step summary's label for the verdict error",
  },
  {
    file: 'packages/shared/src/staging/loadtest.ts',
    source: "'timeout'",
    why: "not shown alone: a request that timed out, counted among the load test's errors",
  },
  // Internal checks: the values are made by the code itself, or checked before they get here.
  {
    file: 'actions/dora-report/src/main.ts',
    source: "'no GitHub context'",
    why: 'unreachable: the token and the repository are checked just before',
  },
  {
    file: 'packages/shared/src/action/registry.ts',
    source:
      "`a ${this.seam} name is lower-case letters, digits and hyphens, starting with a letter (at most 40), got '${printable(name)}'`",
    why: 'programming error: registering an implementation under a bad name, in code',
  },
  {
    file: 'packages/shared/src/action/registry.ts',
    source: '`a ${this.seam} named ${name} is already registered`',
    why: 'programming error: registering an implementation twice, in code',
  },
  {
    file: 'packages/shared/src/action/runner.ts',
    source: '`Missing file at path: ${file}`',
    why: "the runner makes its command files before the step starts (the toolkit's own check)",
  },
  {
    file: 'packages/shared/src/action/runner.ts',
    source: '`Unexpected input: the ${kind.toLowerCase()} ${name} contains the delimiter`',
    why: 'unreachable: the delimiter is a fresh random UUID',
  },
  {
    file: 'packages/shared/src/analysis/sources/batch.ts',
    source: '`the parallel limit must be a positive integer, got ${limit}`',
    why: 'internal: max-parallel is checked as an input first',
  },
  {
    file: 'packages/shared/src/analysis/sources/batch.ts',
    source: '`invalid batch marker ${marker}`',
    why: 'internal: the marker is made by the code',
  },
  {
    file: 'packages/shared/src/rollback/restore-host.ts',
    source: "`${session.label}: the rollback's plan starts ${plan.target} but resolved no runtime for it (a bug)`",
    why: 'internal: the plan resolves a runtime for every color it starts, or refuses first',
  },
  {
    file: 'packages/shared/src/analysis/sources/batch.ts',
    source: "'a batch needs at least one command'",
    why: 'internal: callers always pass commands',
  },
  {
    file: 'packages/shared/src/analysis/sources/log-read.ts',
    source: '`invalid log offset ${offset}`',
    why: 'internal: offsets are computed by the code',
  },
  {
    file: 'packages/shared/src/analysis/sources/log-read.ts',
    source: '`invalid read size ${maxBytes}`',
    why: 'internal: the read size is a constant',
  },
  {
    file: 'packages/shared/src/analysis/sources/log-read.ts',
    source: '`invalid inode ${inode}`',
    why: 'internal: the inode is parsed as digits before',
  },
  {
    file: 'packages/shared/src/analysis/sources/access-log.ts',
    source: '`maxReadBytes must be a positive integer, got ${this.maxReadBytes}`',
    why: 'internal: a constructor option, set in code',
  },
  {
    file: 'packages/shared/src/analysis/sources/nginx-log.ts',
    source: "'NginxLogSource needs at least one host'",
    why: 'internal: the monitor refuses an empty host list first ("no hosts to monitor")',
  },
  {
    file: 'packages/shared/src/analysis/sources/promql.ts',
    source: '`invalid window length ${ms} ms`',
    why: 'internal: windows come from the checked policy',
  },
  { file: 'packages/shared/src/hosts/local.ts', source: "'empty command'", why: 'internal: callers build the argv' },
  {
    file: 'packages/shared/src/hosts/shell.ts',
    source: "'empty command'",
    why: 'internal: every argv turned into a shell line is built by the code',
  },
  {
    file: 'packages/shared/src/hosts/shell.ts',
    source: "'a shell word cannot contain a NUL byte'",
    why: 'internal: every input refuses a NUL byte first ("contains a NUL byte")',
  },
  {
    file: 'packages/shared/src/traffic/router.ts',
    source: '`weights must be two whole shares that add up to 100, got ${formatWeights(weights)}`',
    why: 'internal: weights are computed by the code from checked percentages',
  },
  {
    file: 'packages/shared/src/traffic/nginx-helper.ts',
    source: "`the installed helper needs nginx by its absolute path, got '${target.nginx[0] ?? ''}'`",
    why: 'internal: host-setup installs the helper with the path it located (always absolute)',
  },
  {
    file: 'packages/shared/src/traffic/nginx-helper.ts',
    source: "'empty nginx command'",
    why: 'internal: nginx-command is checked as an input first',
  },
];

function isExcluded(excluded: (typeof EXCLUDED)[number], message: Message): boolean {
  return (
    excluded.file === message.file &&
    excluded.source === message.source &&
    (excluded.text === undefined || excluded.text === normalize(message.text))
  );
}

/** Hyphenated names in code spans that are not inputs, each with the file that defines it. */
const OTHER_NAMES: Readonly<Record<string, string>> = {
  'max-source-errors': 'packages/shared/src/analysis/policy.ts', // a field of canary-monitor's policy
  'ansible-galaxy': 'actions/deploy-staging/src/collections.ts', // the program that installs the collections
};

interface Entry {
  group: string;
  title: string;
  line: number;
  messages: Array<{ text: string; line: number }>;
}

/** The page's groups (`##`), entries (`###`), and each entry's messages: a list item that is only a code span. */
function readRunbook(text: string): { groups: string[]; toc: string[]; entries: Entry[]; lines: string[] } {
  const lines = text.split('\n');
  const groups: string[] = [];
  const toc: string[] = [];
  const entries: Entry[] = [];
  let group = '';
  let inCode = false;
  lines.forEach((line, index) => {
    if (line.startsWith('```')) inCode = !inCode;
    if (inCode) return;
    const link = /^\s*[-*] \[(.+?)\]\(#([^)]+)\)/.exec(line);
    if (link && groups.length === 0) toc.push(`${link[1]} #${link[2]}`);
    if (line.startsWith('## ')) {
      group = line.slice(3).trim();
      groups.push(group);
    } else if (line.startsWith('### ')) {
      entries.push({ group, title: line.slice(4).trim(), line: index + 1, messages: [] });
    } else {
      const message = /^- (`+) ?(.+?) ?\1\s*$/.exec(line);
      if (message && entries.length > 0) entries.at(-1)?.messages.push({ text: message[2] as string, line: index + 1 });
    }
  });
  return { groups, toc, entries, lines };
}

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

/** The inputs each workflow declares (workflow_dispatch and workflow_call), and whether it can be dispatched. */
function workflowInputs(): Map<string, { inputs: Set<string>; dispatch: boolean }> {
  const found = new Map<string, { inputs: Set<string>; dispatch: boolean }>();
  const dir = path.join(root, '.github/workflows');
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.yml'))) {
    const document = parseYaml(readFileSync(path.join(dir, file), 'utf8')) as {
      on?: Record<string, { inputs?: Record<string, unknown> } | null>;
    };
    const on = document.on ?? {};
    const inputs = new Set([
      ...Object.keys(on.workflow_dispatch?.inputs ?? {}),
      ...Object.keys(on.workflow_call?.inputs ?? {}),
    ]);
    found.set(file, { inputs, dispatch: 'workflow_dispatch' in on });
  }
  return found;
}

/** The inputs of each action (actions/<name>/action.yml). */
function actionInputs(): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const name of readdirSync(path.join(root, 'actions'))) {
    const file = path.join(root, 'actions', name, 'action.yml');
    if (!existsSync(file)) continue;
    const document = parseYaml(readFileSync(file, 'utf8')) as { inputs?: Record<string, unknown> };
    found.set(name, new Set(Object.keys(document.inputs ?? {})));
  }
  return found;
}

/**
 * What `bin/agent-loop <command>` accepts, asked of the command line itself (`<command> --help` lists every option and
 * its variable); null for no such command.
 */
async function cliOptions(command: string): Promise<{ options: Set<string>; variables: Set<string> } | null> {
  const run = promisify(execFile);
  const help = await run(path.join(root, 'bin/agent-loop'), [command, '--help'], { cwd: root, timeout: 60_000 }).then(
    (done) => done.stdout,
    () => null,
  );
  if (help === null) return null;
  return {
    options: new Set([...help.matchAll(/^ {2}--([a-z][a-z0-9-]*)/gm)].map((match) => match[1] as string)),
    variables: new Set(help.match(/\bAGENT_LOOP_[A-Z0-9_]+/g) ?? []),
  };
}

describe(`${RUNBOOK}, the on-call page`, () => {
  let extraction: Extraction;
  let runbook: ReturnType<typeof readRunbook>;
  const messages = new Map<string, string[]>();

  beforeAll(() => {
    extraction = extractMessages(root);
    runbook = readRunbook(readFileSync(path.join(root, RUNBOOK), 'utf8'));
    for (const message of extraction.messages) {
      if (EXCLUDED.some((excluded) => isExcluded(excluded, message))) continue;
      const key = normalize(message.text);
      messages.set(key, [
        ...(messages.get(key) ?? []),
        `${message.file}:${message.line} (${message.via}) ${message.text}`,
      ]);
    }
  });

  it('knows how every error class the code declares prints its message', () => {
    expect(
      [...extraction.errorClasses]
        .filter(([name, found]) => found.constructs && !(name in ERROR_CLASSES))
        .map(([name]) => name),
      'classes that print their message their own way: say how in ERROR_CLASSES',
    ).toEqual([]);
    expect(Object.keys(ERROR_CLASSES).filter((name) => name !== 'Error' && !extraction.errorClasses.has(name))).toEqual(
      [],
    );
    expect(extraction.messages.length).toBeGreaterThan(300);
  });

  it('has an entry for every message the code can print', () => {
    const covered = new Set(
      runbook.entries.flatMap((entry) => entry.messages.map((message) => normalize(message.text))),
    );
    const missing = [...messages].filter(([key]) => !covered.has(key)).map(([, where]) => where[0] as string);
    expect(
      missing,
      `messages with no entry in ${RUNBOOK} (add them, or exclude them in this test with the reason)`,
    ).toEqual([]);
  });

  it('lists no message the code no longer prints', () => {
    const stale = runbook.entries.flatMap((entry) =>
      entry.messages
        .filter((message) => !messages.has(normalize(message.text)))
        .map((message) => `${RUNBOOK}:${message.line} (${entry.title}): ${message.text}`),
    );
    expect(stale, 'entries whose message is not in the code any more').toEqual([]);
  });

  it('excludes only messages that exist, each with a reason, and none with no text of its own', () => {
    const stale = EXCLUDED.filter((excluded) => !extraction.messages.some((message) => isExcluded(excluded, message)));
    expect(stale, 'exclusions that match no message any more').toEqual([]);
    expect(EXCLUDED.filter((excluded) => excluded.why.length < 20)).toEqual([]);
    expect(
      [...messages].filter(([key]) => key === '').map(([, where]) => where),
      'messages that only pass on another text: exclude each with the reason',
    ).toEqual([]);
  });

  it('gives every entry a message, what it means and what to do, and lists every group at the top', () => {
    expect(runbook.entries.length).toBeGreaterThan(20);
    for (const entry of runbook.entries) {
      expect(entry.messages.length, `${entry.title} lists no message`).toBeGreaterThan(0);
      const body = runbook.lines
        .slice(entry.line, runbook.entries.find((other) => other.line > entry.line)?.line ?? runbook.lines.length)
        .join('\n');
      expect(body, `${entry.title}: what it means`).toMatch(/\*\*Means:\*\*/);
      expect(body, `${entry.title}: what to do`).toMatch(/\*\*Do:\*\*/);
    }
    expect(runbook.toc).toEqual(runbook.groups.map((group) => `${group} #${slug(group)}`));
  });

  it('names only bin/agent-loop commands and options that exist', async () => {
    const uses: Array<{ command: string; options: string[]; line: number }> = [];
    runbook.lines.forEach((line, index) => {
      for (const match of line.matchAll(/bin\/agent-loop ([a-z-]+)((?: +(?:--[a-z][a-z0-9-]*|(?!--)[^\s`|#&;]+))*)/g)) {
        uses.push({
          command: match[1] as string,
          options: [...(match[2] ?? '').matchAll(/--([a-z][a-z0-9-]*)/g)].map((option) => option[1] as string),
          line: index + 1,
        });
      }
    });
    expect(uses.length).toBeGreaterThan(5);
    const commands = [...new Set(uses.map((use) => use.command))];
    const known = new Map(
      await Promise.all(commands.map(async (command) => [command, await cliOptions(command)] as const)),
    );
    const problems = uses.flatMap((use) => {
      const help = known.get(use.command);
      if (!help) return [`${RUNBOOK}:${use.line}: bin/agent-loop has no command ${use.command}`];
      return use.options
        .filter((option) => !help.options.has(option))
        .map((option) => `${RUNBOOK}:${use.line}: bin/agent-loop ${use.command} has no option --${option}`);
    });
    // Every AGENT_LOOP_ variable the page sets is one some command reads.
    const variables = new Set([...known.values()].flatMap((help) => [...(help?.variables ?? [])]));
    const messageLines = new Set(runbook.entries.flatMap((entry) => entry.messages.map((message) => message.line)));
    runbook.lines.forEach((line, index) => {
      if (messageLines.has(index + 1)) return;
      for (const variable of line.match(/\bAGENT_LOOP_[A-Z0-9_]+\b/g) ?? [])
        if (!variables.has(variable)) problems.push(`${RUNBOOK}:${index + 1}: no command reads ${variable}`);
    });
    expect(problems).toEqual([]);
  }, 120_000);

  it('names only workflows, actions and inputs that exist', () => {
    const workflows = workflowInputs();
    const actions = actionInputs();
    const anyInput = new Set([
      ...[...workflows.values()].flatMap((workflow) => [...workflow.inputs]),
      ...[...actions.values()].flatMap((inputs) => [...inputs]),
    ]);
    const problems: string[] = [];
    const messageLines = new Set(runbook.entries.flatMap((entry) => entry.messages.map((message) => message.line)));
    let inCode = false;
    runbook.lines.forEach((line, index) => {
      if (line.startsWith('```')) inCode = !inCode;
      if (inCode || messageLines.has(index + 1)) return;
      const where = `${RUNBOOK}:${index + 1}`;
      for (const match of line.matchAll(/`((?:examples|docs|test|scripts|bin|actions|\.github)\/[A-Za-z0-9._/-]+)`/g))
        if (!existsSync(path.join(root, match[1] as string))) problems.push(`${where}: no file ${match[1]}`);
      for (const match of line.matchAll(/\]\(#([^)]+)\)/g))
        if (
          !runbook.lines.some((heading) => /^#{2,3} /.test(heading) && slug(heading.replace(/^#+ /, '')) === match[1])
        )
          problems.push(`${where}: no heading for #${match[1]}`);
      const named = [...line.matchAll(/`([a-z-]+\.yml)`/g)].map((match) => match[1] as string);
      for (const file of named)
        if (!workflows.has(file)) problems.push(`${where}: no workflow ${file} in .github/workflows`);
      if (/workflow_dispatch/.test(line))
        for (const file of named)
          if (workflows.has(file) && !workflows.get(file)?.dispatch)
            problems.push(`${where}: ${file} has no workflow_dispatch`);
      const actionNamed = [...line.matchAll(/`([a-z-]+)` action|actions\/([a-z-]+)/g)].map(
        (match) => (match[1] ?? match[2]) as string,
      );
      for (const name of actionNamed) if (!actions.has(name)) problems.push(`${where}: no action ${name}`);
      const inputs = [...line.matchAll(/`([a-z][a-z0-9-]*): [^`]+`/g)].map((match) => match[1] as string);
      // A bare hyphenated name (`lock-wait-seconds`) is an input too, unless it names an action or another thing on purpose.
      for (const match of line.matchAll(/`([a-z][a-z0-9]*(?:-[a-z0-9]+)+)`/g)) {
        const name = match[1] as string;
        if (actions.has(name)) continue;
        if (name in OTHER_NAMES) {
          if (!readFileSync(path.join(root, OTHER_NAMES[name] as string), 'utf8').includes(name))
            problems.push(`${where}: ${name} is not in ${OTHER_NAMES[name]} any more`);
          continue;
        }
        inputs.push(name);
      }
      for (const input of inputs) {
        const scope = named
          .filter((file) => workflows.has(file))
          .map((file) => workflows.get(file)?.inputs as Set<string>);
        // A workflow named on the line is what the person runs: its inputs, not any action's.
        const allowed = scope.length > 0 ? scope : [anyInput];
        if (!allowed.some((inputs) => inputs.has(input)))
          problems.push(`${where}: no input ${input}${scope.length > 0 ? ` in ${named.join(', ')}` : ''}`);
      }
    });
    expect(problems).toEqual([]);
  });
});
