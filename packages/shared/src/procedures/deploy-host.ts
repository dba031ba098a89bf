import {
  checkName,
  launchRelease,
  preflight,
  prepareRelease,
  serverBlockWarnings,
  smoke,
  stopRelease,
  waitHealthy,
} from '../runtime';
import { readLive, stableColor, step, switchOne } from '../fleet';
import { DEFAULT_ROUTER, weightsFor } from '../traffic';
import { addRelease, newReleaseId, updateRelease } from '../hosts';
import { otherColor, type Release } from '../domain';
import { iso, type DeploySettings, type DeployWork } from './bluegreen';

/**
 * A deploy on one host before any traffic moves: preflight, the release on record, pull, the idle
 * color stopped and started with the new version, health, readiness and smoke checks.
 */

export async function prepareHost(work: DeployWork, settings: DeploySettings): Promise<void> {
  const { session } = work;
  const server = { app: settings.app, accessLog: session.spec.accessLog };
  const router = { name: settings.router ?? DEFAULT_ROUTER, host: session.spec, app: settings.app };
  const facts = await step(
    work,
    settings,
    'preflight',
    () =>
      preflight(
        session.remote,
        session.spec.stateDir,
        session.spec.nginxConfDir,
        session.spec.nginxCommand,
        settings.preflight,
        server,
        router,
      ),
    (found) =>
      `${found.freeDiskMb} MB disk, ${found.freeMemoryMb} MB memory free, ${found.nginxSkipped ? `${router.name} ready` : 'nginx -t ok'}`,
  );
  // A server block that does not proxy to the split variable sends the new color nothing: said, not
  // refused. Before an app's first deploy the variable does not exist, so the line cannot be there
  // yet: then it is what to do next, not a warning.
  for (const warning of serverBlockWarnings(facts.server, server)) {
    if (session.state.active) settings.log.warn(`${session.label}: ${warning}`);
    else settings.log.info(`${session.label}: once this first deploy is done: ${warning}`);
  }
  await readLive(work, settings);
  work.stable = stableColor(session.state, work.before);
  work.target = work.stable ? otherColor(work.stable) : 'blue';
  work.report.fromColor = work.stable;
  work.report.toColor = work.target;
  work.report.version = settings.version;
  work.report.previousVersion = work.stable ? (session.state.colors[work.stable]?.version ?? null) : null;
  const target = work.target;

  // A re-run after a failed or replaced canary: take the idle color out of traffic before restarting it.
  if (work.stable && work.before && work.before[target] > 0) {
    const stable = work.stable;
    await switchOne(work, settings, 'take the idle color out of traffic', {
      weights: weightsFor(stable, 100),
      phase: 'take-out',
      recover: 'to',
      commit: (state) => {
        const replaced = state.canary?.release;
        const next = { ...state, active: stable, canary: null };
        return replaced
          ? updateRelease(next, replaced, {
              status: 'cancelled',
              endedAt: iso(settings),
              note: `replaced by ${settings.version} before it was promoted`,
            })
          : next;
      },
    });
    work.before = weightsFor(stable, 100);
    work.moved = false;
    work.stateBefore = undefined;
  }

  // The release is on record before anything is touched: whatever happens next, it is known.
  const releaseId = newReleaseId();
  work.releaseId = releaseId;
  await session.saveState(
    addRelease(session.state, {
      id: releaseId,
      version: settings.version,
      image: settings.image,
      color: target,
      runId: settings.run.runId,
      deployedAt: iso(settings),
      status: 'deploying',
      servedAt: null,
      restoredAt: null,
      endedAt: null,
      note: '',
      ...(settings.runtimeRecord ? { runtime: settings.runtimeRecord } : {}),
    }),
  );

  const release: Release = {
    app: settings.app,
    color: target,
    port: session.port(target),
    image: settings.image,
    version: settings.version,
  };
  const timeoutMs = settings.commandTimeoutSeconds * 1000;
  // Pull and check first: an image that cannot be had stops the deploy before the idle color (maybe a
  // standby kept for an instant rollback) is touched.
  const prepared = await step(
    work,
    settings,
    `prepare ${settings.image}`,
    () => prepareRelease(session.remote, settings.runtime, release, timeoutMs),
    (ready) => ready.image,
    { interruptible: true },
  );
  const previous = session.state.colors[target];
  await step(work, settings, `stop whatever runs as ${target}`, () =>
    stopRelease(
      session.remote,
      settings.runtime,
      { ...release, image: previous?.image ?? release.image, version: previous?.version ?? release.version },
      timeoutMs,
    ),
  );
  if (previous)
    await session.saveState({
      ...session.state,
      colors: { ...session.state.colors, [target]: { ...previous, status: 'stopped', since: iso(settings) } },
    });
  await step(
    work,
    settings,
    `start ${settings.version} as ${target} on port ${release.port}`,
    () => launchRelease(session.remote, settings.runtime, prepared, timeoutMs),
    undefined,
    { interruptible: true },
  );
  // The color records the image it runs: for compose, the tag resolved to its digest, so a rollback restarts exactly what ran.
  await session.saveState(
    updateRelease(
      {
        ...session.state,
        colors: {
          ...session.state.colors,
          [target]: {
            image: prepared.image,
            version: settings.version,
            port: release.port,
            status: 'running',
            since: iso(settings),
          },
        },
      },
      releaseId,
      { image: prepared.image },
    ),
  );
  await step(
    work,
    settings,
    `wait for ${settings.healthPaths.join(' and ')}`,
    () =>
      waitHealthy(session.remote, release.port, settings.healthPaths, settings.healthTimeoutSeconds, settings.clock),
    (ms) => `healthy after ${ms} ms`,
    { interruptible: true },
  );
  for (const check of settings.smokeRequests) {
    await step(
      work,
      settings,
      `smoke ${checkName(check)}`,
      async () => {
        const outcome = await smoke(session.remote, release.port, check, settings.smokeDefaults);
        work.report.smoke.push(outcome);
        if (!outcome.ok) throw new Error(`smoke ${checkName(check)} on ${target}: ${outcome.problem}`);
        return outcome;
      },
      (outcome) => `${outcome.status} in ${outcome.latencyMs} ms`,
    );
  }
}
