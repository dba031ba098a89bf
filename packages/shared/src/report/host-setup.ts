import { errorMessage, markdownCode, type Settled, table } from '../action';
import { deployNginxCommand, type SetupReport } from '../hosts';
import { formatPrerequisites, type Prerequisite } from '../runtime';

/**
 * What host-setup found on each host, folded into one outcome each for its two phases: the doctor
 * (what a host lacks, with the command that fixes it) and the set-up (what it changed).
 */

export interface DoctorOutcome {
  /** Per host: what is missing ([] when ready), or why it could not be checked. */
  report: Record<string, Prerequisite[] | { error: string }>;
  /** Missing things over all hosts (a host that could not be checked counts once). */
  missing: number;
  /** A paragraph per host that is not ready. */
  problems: string[];
  ready: string[];
  summary: string;
}

export function doctorOutcome(labels: readonly string[], results: readonly Settled<Prerequisite[]>[]): DoctorOutcome {
  const outcome: DoctorOutcome = { report: {}, missing: 0, problems: [], ready: [], summary: '' };
  results.forEach((result, index) => {
    const label = labels[index] as string;
    if (!result.ok) {
      outcome.missing++;
      outcome.report[label] = { error: errorMessage(result.error) };
      outcome.problems.push(`${label}: could not be checked: ${errorMessage(result.error)}`);
    } else if (result.value.length > 0) {
      outcome.missing += result.value.length;
      outcome.report[label] = result.value;
      outcome.problems.push(formatPrerequisites(label, result.value));
    } else {
      outcome.report[label] = [];
      outcome.ready.push(label);
    }
  });
  const rows = Object.entries(outcome.report).flatMap(([host, items]) =>
    Array.isArray(items)
      ? items.length === 0
        ? [[host, 'nothing: ready', '']]
        : items.map((item) => [host, item.problem, markdownCode(item.fix)])
      : [[host, 'could not be checked', items.error]],
  );
  outcome.summary = ['## Host doctor', '', table(['host', 'missing', 'fix'], rows), ''].join('\n');
  return outcome;
}

export interface SetupOutcome {
  reports: SetupReport[];
  /** What is left to do, a line per thing (a host that failed, a step left as todo). */
  problems: string[];
  /** Lines to log: each step's outcome on each host. */
  lines: string[];
  changed: number;
  /** The nginx-command the deploys take after the set-up: the switch helper through sudo -n. */
  nginxCommand: string;
  summary: string;
}

export function setupOutcome(
  labels: readonly string[],
  results: readonly Settled<SetupReport>[],
  plan: { deployUser: string; switchHelper: string; router?: string },
): SetupOutcome {
  const reports: SetupReport[] = [];
  const problems: string[] = [];
  const lines: string[] = [];
  results.forEach((result, index) => {
    const label = labels[index] as string;
    if (!result.ok) {
      problems.push(`${label}: ${errorMessage(result.error)}`);
      return;
    }
    const report = result.value;
    reports.push(report);
    if (report.fatal) problems.push(`${label}: ${report.fatal}`);
    for (const item of report.items) {
      lines.push(`${label}: ${item.outcome}: ${item.what}`);
      if (item.outcome === 'todo') problems.push(`${label}: ${item.what}`);
    }
  });
  const changed = reports.reduce(
    (sum, report) => sum + report.items.filter((item) => item.outcome === 'changed').length,
    0,
  );
  const nginxPath = reports.find((report) => report.nginxPath)?.nginxPath ?? '';
  const nginxCommand = nginxPath ? deployNginxCommand(plan.switchHelper) : '';
  const rows = reports.flatMap((report) => [
    ...(report.fatal ? [[report.host, 'failed', report.fatal]] : []),
    ...report.items.map((item) => [report.host, item.outcome, item.what]),
  ]);
  const summary = [
    '## Host set-up',
    '',
    `Deploy user \`${plan.deployUser}\`: ${changed} change${changed === 1 ? '' : 's'}. ` +
      `Deploy with \`${nginxCommand ? `nginx-command: ${nginxCommand}` : `router: ${plan.router ?? 'nginx'}`}\`.`,
    '',
    table(['host', 'outcome', 'what'], rows),
    '',
  ].join('\n');
  return { reports, problems, lines, changed, nginxCommand, summary };
}
