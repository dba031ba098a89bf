import { table } from '../action';
import { plural, round, type DoraFigure, type DoraReport } from './dora';

/** The DORA figures as the step summary shows them (pure): one row per figure, against its target. */

function formatValue(value: number, unit: DoraFigure['unit']): string {
  if (unit === 'ratio') return `${round(value * 100, 2)}%`;
  if (unit === 'per week') return `${value} per week`;
  if (unit === 'hours') return `${value} h`;
  return `${value} min`;
}

export function formatTarget(figure: DoraFigure): string {
  return `${figure.target.comparison === 'above' ? '>' : '<'} ${formatValue(figure.target.value, figure.unit)}`;
}

export const doraFigures = (report: DoraReport): DoraFigure[] => [
  report.deploymentFrequency,
  report.leadTime,
  report.mttr,
  report.changeFailureRate,
];

/** Step summary: one row per figure. */
export function doraSummary(environment: string, report: DoraReport): string {
  const { deployments } = report;
  return [
    `### DORA figures: ${environment}, last ${plural(report.window.days, 'day')}`,
    '',
    table(
      ['figure', 'value', 'target', 'met', 'samples'],
      doraFigures(report).map((figure) => [
        figure.name,
        figure.value === null ? 'not enough data' : formatValue(figure.value, figure.unit),
        formatTarget(figure),
        figure.met === null ? '—' : figure.met ? '✅ yes' : '❌ no',
        `${figure.samples} (${figure.detail})`,
      ]),
    ),
    '',
    `From ${report.window.from} to ${report.window.to}: ${plural(deployments.total, 'deployment')} ` +
      `(${deployments.successful} successful, ${deployments.failed} failed, ` +
      `${deployments.pending} without an outcome yet, ${plural(deployments.rollbacks, 'rollback')}).`,
    '',
  ].join('\n');
}
