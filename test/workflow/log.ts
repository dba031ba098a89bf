// The run's log, shaped like GitHub's: each job's steps with their output (`##[group]`, `##[error]`
// as in a downloaded log), then the tree of jobs and steps with durations, the annotations and the
// step summaries. Every line goes through the masker before it is kept or written.
import type { Masker } from './masker';
import type { Annotation, JobStatus, StepStatus } from './types';

export interface StepTiming {
  name: string;
  conclusion: StepStatus;
  ms: number;
}

export interface JobTiming {
  key: string;
  name: string;
  result: JobStatus;
  ms: number;
  steps: StepTiming[];
}

const MARK: Record<string, string> = { success: '✓', failure: 'X', cancelled: '⊘', skipped: '-' };

export function seconds(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  return ms < 60_000
    ? `${(ms / 1000).toFixed(1)}s`
    : `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1000)}s`;
}

export class RunLog {
  readonly lines: string[] = [];
  readonly annotations: Annotation[] = [];
  readonly summaries: Record<string, string> = {};
  private readonly timings: JobTiming[] = [];

  constructor(
    readonly masker: Masker,
    private readonly sink?: (line: string) => void,
  ) {}

  write(text: string, masker: Masker = this.masker): void {
    for (const line of text.split('\n')) {
      const masked = masker.mask(line);
      this.lines.push(masked);
      this.sink?.(masked);
    }
  }

  annotate(annotation: Annotation, masker: Masker = this.masker): void {
    this.annotations.push({
      ...annotation,
      message: masker.mask(annotation.message),
      ...(annotation.title ? { title: masker.mask(annotation.title) } : {}),
    });
  }

  summary(key: string, text: string, masker: Masker): void {
    // The runner scrubs a step summary with the secret masker before it uploads it.
    this.summaries[key] = (this.summaries[key] ?? '') + masker.mask(text);
  }

  jobDone(timing: JobTiming): void {
    this.timings.push(timing);
  }

  /** The closing sections: jobs and steps with durations, annotations, step summaries. */
  finish(conclusion: string): void {
    this.write('');
    this.write(`Run ${conclusion}`);
    for (const job of this.timings) {
      this.write(`${MARK[job.result] ?? '?'} ${job.name} (${job.key}): ${job.result} in ${seconds(job.ms)}`);
      for (const step of job.steps) this.write(`    ${MARK[step.conclusion] ?? '?'} ${step.name} ${seconds(step.ms)}`);
    }
    if (this.annotations.length > 0) {
      this.write('');
      this.write('Annotations');
      for (const a of this.annotations)
        this.write(`  ${a.level} ${a.job ?? 'run'}${location(a)}: ${a.title ? `${a.title}: ` : ''}${a.message}`);
    }
    for (const [key, text] of Object.entries(this.summaries)) {
      if (text.trim() === '') continue;
      this.write('');
      this.write(`Summary of ${key}`);
      this.write(text.replace(/\n$/, ''));
    }
  }
}

function location(a: Annotation): string {
  if (!a.file) return '';
  return ` ${a.file}${a.line !== undefined ? `#L${a.line}${a.col !== undefined ? `:${a.col}` : ''}` : ''}`;
}

/** One job's view of the log: indented, masked with the job's masker (its add-mask values). */
export class JobLog {
  constructor(
    private readonly run: RunLog,
    readonly job: string,
    readonly masker: Masker,
  ) {}

  line(text: string): void {
    this.run.write(
      text
        .split('\n')
        .map((line) => `  ${line}`)
        .join('\n'),
      this.masker,
    );
  }

  annotate(annotation: Omit<Annotation, 'job'>): void {
    this.run.annotate({ ...annotation, job: this.job }, this.masker);
  }

  /** An error the runner itself raises: an annotation and a `##[error]` line. */
  error(message: string): void {
    this.annotate({ level: 'error', message });
    this.line(`##[error]${message}`);
  }

  warning(message: string): void {
    this.annotate({ level: 'warning', message });
    this.line(`##[warning]${message}`);
  }

  summary(step: string, text: string): void {
    this.run.summary(`${this.job}/${step}`, text, this.masker);
  }
}
