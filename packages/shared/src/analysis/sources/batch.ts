import { randomBytes } from 'node:crypto';
import { HostError } from '../../action';
import { script, toShell, type Argv, type ExecResult, type Remote, type RunOptions } from '../../hosts';

/**
 * Bounded cost per interval: every source of a sample (the access-log read, the health checks,
 * memory, the probes) asks its host's remote for commands at the same instant; a BatchedRemote
 * gathers the commands asked for in the same turn of the event loop and sends them to the host as
 * ONE SSH command, a script that runs them side by side and prints each one's exit code, stdout
 * and stderr between markers. A shared gate lets at most `max-parallel` hosts run their command at
 * once. A command asked for only after another's answer (a rotated log's rest) goes out in a later
 * batch: that is the only way a host gets a second command in an interval.
 */

/** Lets at most `limit` tasks run at once; the others wait their turn in order. */
export class HostGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new Error(`the parallel limit must be a positive integer, got ${limit}`);
  }

  async use<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/**
 * Runs each command (given as the words of `sh -c`, quoted by toShell) in the background with its
 * own output files, waits for each in order and prints `<marker> <index> <exit code>`, its stdout,
 * `<marker> e`, its stderr, and at the very end `<marker> end`.
 */
const BATCH_SCRIPT = `set -u
m=$1; shift
d=$(mktemp -d) || exit 3
trap 'rm -rf "$d"' EXIT
i=0
for c in "$@"; do
  i=$((i + 1))
  ( eval "$c" ) >"$d/$i.o" 2>"$d/$i.e" </dev/null &
  eval "p$i=\\$!"
done
j=0
while [ "$j" -lt "$i" ]; do
  j=$((j + 1))
  eval "wait \\$p$j"; code=$?
  printf '%s %s %s\\n' "$m" "$j" "$code"
  cat "$d/$j.o"
  printf '\\n%s e\\n' "$m"
  cat "$d/$j.e"
  printf '\\n'
done
printf '%s end\\n' "$m"`;

/** A marker no command prints: `@` is outside base64's alphabet and the rest is random. */
export function batchMarker(): string {
  return `@@al-batch-${randomBytes(12).toString('hex')}`;
}

/** One command that runs all of `commands` on the host (pure). */
export function batchCommand(commands: readonly Argv[], marker: string): Argv {
  if (!/^@@al-batch-[0-9a-f]+$/.test(marker)) throw new Error(`invalid batch marker ${marker}`);
  if (commands.length === 0) throw new Error('a batch needs at least one command');
  return script('al-batch', BATCH_SCRIPT, [marker, ...commands.map((argv) => toShell(argv))]);
}

/** Each command's result from what `batchCommand` printed (pure); throws when the batch was cut short. */
export function parseBatchOutput(stdout: string, marker: string, count: number): ExecResult[] {
  const results: ExecResult[] = [];
  let at = 0;
  for (let index = 1; index <= count; index++) {
    const header = `${marker} ${index} `;
    if (!stdout.startsWith(header, at))
      throw new Error(`the batch's answer has no result for command ${index} of ${count}`);
    const headerEnd = stdout.indexOf('\n', at);
    if (headerEnd === -1) throw new Error(`the batch's answer stops in the header of command ${index}`);
    const code = Number(stdout.slice(at + header.length, headerEnd));
    if (!Number.isInteger(code)) throw new Error(`the batch's answer has no exit code for command ${index}`);
    const errMarker = `\n${marker} e\n`;
    const outEnd = stdout.indexOf(errMarker, headerEnd + 1);
    if (outEnd === -1) throw new Error(`the batch's answer stops in the output of command ${index}`);
    const errStart = outEnd + errMarker.length;
    // The errors end with the newline the script prints before the next marker line.
    const end = stdout.indexOf(`\n${marker} `, errStart);
    if (end === -1) throw new Error(`the batch's answer stops in the errors of command ${index}`);
    results.push({ code, stdout: stdout.slice(headerEnd + 1, outEnd), stderr: stdout.slice(errStart, end) });
    at = end + 1;
  }
  if (!stdout.startsWith(`${marker} end`, at)) throw new Error('the batch did not finish');
  return results;
}

interface Pending {
  argv: Argv;
  options: RunOptions;
  resolve: (result: ExecResult) => void;
  reject: (error: unknown) => void;
}

/** What a BatchedRemote sent: SSH commands and the bytes of their command lines and answers. */
export interface BatchCounts {
  sshCommands: number;
  commands: number;
  bytesSent: number;
  bytesReceived: number;
}

export class BatchedRemote implements Remote {
  readonly label: string;
  private pending: Pending[] = [];
  private scheduled = false;
  readonly counts: BatchCounts = { sshCommands: 0, commands: 0, bytesSent: 0, bytesReceived: 0 };

  constructor(
    private readonly inner: Remote,
    private readonly gate: HostGate,
  ) {
    this.label = inner.label;
  }

  run(argv: Argv, options: RunOptions = {}): Promise<ExecResult> {
    // A command with its own stdin cannot share the batch's; none of the sources sends one.
    if (options.stdin !== undefined) return this.send(1, argv, options);
    return new Promise<ExecResult>((resolve, reject) => {
      this.pending.push({ argv, options, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  close(): void {
    this.inner.close();
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    if (batch.length === 0) return;
    if (batch.length === 1) {
      const [only] = batch as [Pending];
      try {
        only.resolve(await this.send(1, only.argv, only.options));
      } catch (error) {
        only.reject(error);
      }
      return;
    }
    const marker = batchMarker();
    const timeouts = batch.map((item) => item.options.timeoutMs);
    const timeoutMs = timeouts.every((value) => value !== undefined) ? Math.max(...(timeouts as number[])) : undefined;
    try {
      const result = await this.send(
        batch.length,
        batchCommand(
          batch.map((item) => item.argv),
          marker,
        ),
        timeoutMs === undefined ? {} : { timeoutMs },
      );
      let results: ExecResult[];
      try {
        results = parseBatchOutput(result.stdout, marker, batch.length);
      } catch (error) {
        const stderr = result.stderr.trim() ? `: ${result.stderr.trim().slice(0, 300)}` : '';
        throw new HostError(
          this.label,
          `the sampling commands failed to run (exit ${result.code}): ${(error as Error).message}${stderr}`,
        );
      }
      batch.forEach((item, index) => item.resolve(results[index] as ExecResult));
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
  }

  private async send(commands: number, argv: Argv, options: RunOptions): Promise<ExecResult> {
    const result = await this.gate.use(() => this.inner.run(argv, options));
    this.counts.sshCommands += 1;
    this.counts.commands += commands;
    this.counts.bytesSent +=
      Buffer.byteLength(toShell(argv)) + (options.stdin === undefined ? 0 : Buffer.byteLength(options.stdin));
    this.counts.bytesReceived += Buffer.byteLength(result.stdout) + Buffer.byteLength(result.stderr);
    return result;
  }
}

/** One BatchedRemote per host, all behind one gate of `maxParallel` hosts. */
export function batchRemotes<T extends Remote>(remotes: readonly T[], maxParallel: number): Map<T, BatchedRemote> {
  const gate = new HostGate(maxParallel);
  return new Map(remotes.map((remote) => [remote, new BatchedRemote(remote, gate)]));
}
