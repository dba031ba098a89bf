// The runner's secret masker: every secret and every `::add-mask::` value becomes `***` in the log,
// the outputs and the result. A multi-line value is masked as a whole and line by line.

export class Masker {
  private readonly values = new Set<string>();

  constructor(
    private readonly parent?: Masker,
    private readonly collector?: Masker,
  ) {}

  /**
   * A masker that knows this one's values and its own: a job's add-mask values stay in the job's
   * log, and also reach `collector` (the one that masks the run's result).
   */
  child(collector?: Masker): Masker {
    return new Masker(this, collector);
  }

  add(value: string): void {
    if (value.trim() === '') return;
    this.collector?.add(value);
    this.values.add(value);
    for (const line of value.split(/\r?\n/)) if (line.trim() !== '') this.values.add(line.trim());
  }

  private all(): string[] {
    const values = [...(this.parent?.all() ?? []), ...this.values];
    // Longest first, so a value containing another is masked whole.
    return [...new Set(values)].sort((a, b) => b.length - a.length);
  }

  mask(text: string): string {
    let masked = text;
    for (const value of this.all()) masked = masked.split(value).join('***');
    return masked;
  }

  /** Whether the text holds a masked value (the runner then drops a job output). */
  reveals(text: string): boolean {
    return this.all().some((value) => text.includes(value));
  }
}
