import { describe, expect, it } from 'vitest';
import { emptyState, withHistory, type AppState, type HistoryEntry } from '../src/hosts';
import { KEPT_DEPLOYS, parsePrune, protectedImages, pruneCommand } from '../src/procedures/maintenance';

const deployEntry = (version: string, outcome: HistoryEntry['outcome'] = 'success'): HistoryEntry => ({
  time: 't',
  runId: 'r',
  actor: 'a',
  action: 'deploy',
  color: 'blue',
  version,
  image: `reg/app:${version}`,
  outcome,
});

describe('protectedImages', () => {
  it("keeps both colors' images, the canary's and the last deploys' images, nothing else", () => {
    let state: AppState = emptyState('app', 't');
    for (const version of ['v1', 'v2', 'v3', 'v4', 'v5']) state = withHistory(state, deployEntry(version));
    state = withHistory(state, deployEntry('v6', 'failed'));
    state = {
      ...state,
      colors: {
        blue: { image: 'reg/app@sha256:aa', version: 'v4', port: 1, status: 'stopped', since: 't' },
        green: { image: 'reg/app@sha256:bb', version: 'v5', port: 2, status: 'running', since: 't' },
      },
    };
    expect(KEPT_DEPLOYS).toBe(3);
    expect(protectedImages(state).sort()).toEqual([
      'reg/app:v3',
      'reg/app:v4',
      'reg/app:v5',
      'reg/app@sha256:aa',
      'reg/app@sha256:bb',
    ]);
  });
});

describe('pruneCommand and parsePrune', () => {
  it('passes the window, the mode, the app and the kept images as arguments, never in the script', () => {
    const argv = pruneCommand('shop', ['reg/shop@sha256:aa'], { untilHours: 168, allImages: true });
    expect(argv.slice(3)).toEqual(['al-prune', '168', 'true', 'shop', 'reg/shop@sha256:aa']);
  });

  it('reads the summary line and the kept lines, and refuses output without a summary', () => {
    expect(
      parsePrune('kept container /shop-blue-app-1 (shop-blue)\nremoved containers=2 images=3 networks=1\n'),
    ).toEqual({ containers: 2, images: 3, networks: 1, kept: ['kept container /shop-blue-app-1 (shop-blue)'] });
    expect(() => parsePrune('Cannot connect to the Docker daemon')).toThrow(
      'prune printed no summary: Cannot connect to the Docker daemon',
    );
  });
});
