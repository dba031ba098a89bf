import type { MonitorResult } from '../procedures';
import type { SeriesPoint } from '../analysis';

/** The charts of a monitor's step summary (pure): Mermaid line charts, one line per color. */

/** The colors' own colors for chart lines (GitHub's blue and green), in the order the lines are drawn. */
const LINE_COLOR: Record<'blue' | 'green', string> = { blue: '#0969da', green: '#1a7f37' };

/**
 * A Mermaid xychart-beta line chart, one line per color (pure), each line drawn in its color's own
 * color (the `plotColorPalette` theme variable). Mermaid draws no legend, so a line under the chart
 * names the lines. No data is never drawn as 0: xychart has no gaps, so an instant where a line has
 * no value is left off the x axis, and the note under the chart names what is missing.
 */
export function xyChart(
  title: string,
  unit: string,
  series: SeriesPoint[],
  value: (point: SeriesPoint) => number | null,
  lines: Array<{ color: 'blue' | 'green'; label: string }>,
): string {
  const times = [...new Set(series.map((point) => point.t))].sort((a, b) => a - b);
  if (times.length === 0) return '';
  const valueAt = (t: number, color: 'blue' | 'green'): number | null => {
    const point = series.find((p) => p.t === t && p.color === color);
    const v = point ? value(point) : null;
    return v === null || !Number.isFinite(v) ? null : Math.round(v * 100) / 100;
  };
  const drawn = times.filter((t) => lines.every(({ color }) => valueAt(t, color) !== null));
  const missing = lines
    .map(({ color }) => ({ color, at: times.filter((t) => valueAt(t, color) === null) }))
    .filter((gap) => gap.at.length > 0)
    .map(
      (gap) =>
        `${gap.color} at ${
          gap.at.length > 8
            ? `${gap.at
                .slice(0, 8)
                .map((t) => Math.round(t))
                .join(', ')}… (${gap.at.length} samples)`
            : gap.at.map((t) => Math.round(t)).join(', ')
        } s`,
    );
  const legend = `${title}: ${lines.map((line) => `${line.color} line = ${line.label}`).join(', ')}.`;
  const note = missing.length > 0 ? ` No data (left out, not drawn as 0) for ${missing.join('; ')}.` : '';
  if (drawn.length === 0) return `${title}: no sample had data for every line.${note}`;
  const lineValues = lines.map(({ color }) => drawn.map((t) => valueAt(t, color) as number));
  const max = Math.max(1, ...lineValues.flat());
  const palette = lines.map((line) => LINE_COLOR[line.color]).join(', ');
  return [
    '```mermaid',
    `%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "${palette}"}}}}%%`,
    'xychart-beta',
    `  title "${title.replaceAll('"', "'")}"`,
    `  x-axis "seconds" [${drawn.map((t) => Math.round(t)).join(', ')}]`,
    `  y-axis "${unit}" 0 --> ${Math.ceil(max * 1.1)}`,
    ...lineValues.map((values) => `  line [${values.join(', ')}]`),
    '```',
    '',
    `${legend}${note}`,
  ].join('\n');
}

/**
 * One timeline over every step of a ramp (pure): each step's samples shifted by the time the steps
 * before it took, and the canary's share of traffic at each of them.
 */
export function rampTimeline(result: MonitorResult): { series: SeriesPoint[]; share: SeriesPoint[]; seconds: number } {
  const series: SeriesPoint[] = [];
  const share: SeriesPoint[] = [];
  let offset = 0;
  for (const step of result.steps) {
    for (const point of step.analysis.series) series.push({ ...point, t: point.t + offset });
    const percent = step.percent ?? 0;
    const times = [...new Set(step.analysis.series.map((point) => point.t))];
    for (const t of times.length > 0 ? times : [step.analysis.elapsedSeconds]) {
      share.push({ t: t + offset, color: result.canaryColor, requests: 0, errorRate: percent, p95Ms: null });
      share.push({ t: t + offset, color: result.stableColor, requests: 0, errorRate: 100 - percent, p95Ms: null });
    }
    offset += step.analysis.elapsedSeconds;
  }
  return { series, share, seconds: offset };
}
