import { HostError, UnrecordedSwitchError } from '../action';
import type { Color, HostWrite } from '../hosts';

/**
 * The router seam: the weights of the two colors, what a switch reports, and `TrafficRouter`, the
 * interface every router implements (nginx's in nginx-router.ts, HAProxy's in haproxy.ts), with
 * what they share: the weights check, the generation, the record header, and the exit codes of the
 * write-ahead record and the outcome.
 */

export interface Weights {
  blue: number;
  green: number;
}

export interface SwitchResult {
  weights: Weights;
  /** From the new file being written until nginx's new workers serve it. */
  liveMs: number;
  /**
   * Until no worker of the previous configuration takes a request any more, when the switch returns:
   * nginx's master lets the old workers accept for 100 ms after it starts the new ones, and each then
   * finishes the connections it has before it exits.
   */
  settledMs: number;
  /**
   * Workers of the previous configuration still alive when the switch returned (nginx waits up to a
   * second for them): they take no new connection, but a request on a connection one accepted before
   * the reload still gets the previous weights. 0 when they had all exited.
   */
  draining?: number;
  /** Whether the `after` files were written (in the same command, once the weights were live). */
  recorded: boolean;
}

export interface LiveWeights {
  weights: Weights;
  generation: string;
}

/** The seam between rollout logic and whatever moves traffic. */
export interface TrafficRouter {
  /**
   * Moves traffic. Files in `before` (the write-ahead record) are written in the same command
   * before anything is touched; when one cannot be written, traffic is not touched. Files in
   * `after` (the outcome) are written once the new weights are live, in the same command when they
   * fit in it (`recorded` says so); when they cannot be written, the call fails with the weights live.
   */
  setWeights(
    weights: Weights,
    options?: { before?: readonly HostWrite[]; after?: readonly HostWrite[] },
  ): Promise<SwitchResult>;
  /** What is live now, or null when the router has never been set up for this app. */
  getWeights(): Promise<LiveWeights | null>;
  /**
   * What is live and what the configuration on disk says, separately; with `probe`, also the HTTP
   * status each of those URLs (on the host) answers, in the same round trip.
   */
  inspect(probe?: readonly string[]): Promise<RouterView>;
}

export function weightsFor(color: Color, percent: number): Weights {
  const other = 100 - percent;
  return color === 'blue' ? { blue: percent, green: other } : { blue: other, green: percent };
}

export function formatWeights(weights: Weights): string {
  return `blue ${weights.blue}% / green ${weights.green}%`;
}

export function checkWeights(weights: Weights): void {
  if (
    weights.blue + weights.green !== 100 ||
    weights.blue < 0 ||
    weights.green < 0 ||
    !Number.isInteger(weights.blue) ||
    !Number.isInteger(weights.green)
  ) {
    throw new Error(`weights must be two whole shares that add up to 100, got ${formatWeights(weights)}`);
  }
}

/** Reads the weights recorded in an include file's header (pure). */
export function parseIncludeHeader(content: string): LiveWeights | null {
  const match = /^# agent-loop: (\{.*\})$/m.exec(content);
  if (!match) return null;
  return parseStatus(match[1] as string);
}

export function parseStatus(text: string): LiveWeights | null {
  try {
    const value = JSON.parse(text) as { weights?: Weights; generation?: string };
    if (
      !value.weights ||
      typeof value.weights.blue !== 'number' ||
      typeof value.weights.green !== 'number' ||
      typeof value.generation !== 'string'
    )
      return null;
    return { weights: { blue: value.weights.blue, green: value.weights.green }, generation: value.generation };
  } catch {
    return null;
  }
}

/** What nginx serves and what its include file on disk says (they differ after a reload that did not take effect). */
export interface RouterView {
  live: LiveWeights | null;
  file: LiveWeights | null;
  /** The HTTP status each probed URL answered (0: no answer). */
  health: Record<string, number>;
}

let generationCounter = 0;
export function newGeneration(now: number): string {
  generationCounter += 1;
  return `${now.toString(36)}-${process.pid.toString(36)}-${generationCounter}`;
}

/**
 * Exit codes every router's switch command shares: 35, the write-ahead record could not be written
 * (traffic was not touched); 36, the new weights are live but their outcome could not be written
 * (the caller puts traffic back, since a switch nobody recorded must not stay).
 */
export const RECORD_NOT_WRITTEN = 35;
export const OUTCOME_NOT_WRITTEN = 36;

/**
 * The error of a switch command that exited with one of the shared codes above (`says`: what it
 * printed), or null for another code, which the router reads itself.
 */
export function recordFailure(host: string, code: number, says: string): HostError | null {
  if (code === RECORD_NOT_WRITTEN)
    return new HostError(
      host,
      `the switch could not be recorded before making it, so traffic was not touched: ${says}`,
    );
  if (code === OUTCOME_NOT_WRITTEN)
    return new UnrecordedSwitchError(
      host,
      `the new weights are live, but their outcome could not be recorded: ${says}`,
    );
  return null;
}

/**
 * A thing a host lacks, with the command that fixes it: the doctor's list (runtime/preflight.ts
 * prints it), as a router's own check gives it. 'configuration': HAProxy's or nginx's own
 * configuration, which host-setup does not write.
 */
export interface Prerequisite {
  problem: string;
  fix: string;
  kind?: 'configuration';
}
