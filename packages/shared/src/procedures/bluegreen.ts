import type { PreflightLimits, Runtime, SmokeCheck, SmokeDefaults } from '../runtime';
import type { SessionSettings, Work } from '../fleet';
import type { RuntimeRecord } from '../domain';

/**
 * The blue-green procedure over many hosts. Each phase opens and locks every host first; traffic
 * moves on no host until every host has passed its checks, and a host that fails after others
 * moved sends those back. Every host's outcome lands in its report, and every release in each
 * host's history with what became of it.
 *
 * Here: the two phases' settings and what they share. The phases: deploy.ts (each host's part in
 * deploy-host.ts) and promote.ts.
 */

export interface DeploySettings extends SessionSettings {
  image: string;
  version: string;
  canaryPercent: number;
  runtime: Runtime;
  /** What the release records of its runtime (its name and options), so that a rollback stops and starts it without the runtime inputs. */
  runtimeRecord?: RuntimeRecord;
  healthPaths: string[];
  healthTimeoutSeconds: number;
  /** Sent to the new color before it gets traffic. */
  smokeRequests: SmokeCheck[];
  /** What a smoke check that does not say gets (default: one run within 2 s, PRE_TRAFFIC_SMOKE). */
  smokeDefaults?: SmokeDefaults;
  preflight: PreflightLimits;
  commandTimeoutSeconds: number;
}

export interface PromoteSettings extends SessionSettings {
  /** When given, the canary must be this version. */
  version: string;
  runtime: Runtime;
  healthPaths: string[];
  healthTimeoutSeconds: number;
  drainSeconds: number;
  keepPrevious: boolean;
  commandTimeoutSeconds: number;
}

export interface DeployWork extends Work {
  releaseId?: string;
}

export const iso = (settings: SessionSettings): string => new Date(settings.clock.now()).toISOString();

/** Sleeps, or returns early when the run is cancelled. */
export async function cancellableSleep(settings: SessionSettings, ms: number): Promise<void> {
  const signal = settings.signal;
  if (!signal) return settings.clock.sleep(ms);
  if (signal.aborted) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void settings.clock.sleep(ms).then(done);
  });
}
