import http from 'node:http';
import { it } from 'vitest';
import { NginxRouter, statusPath, statusHost } from '../src/router';
import { freePort, localRemote, nginxPrefix } from './support/local-remote';
function get(port: number, p: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => { http.get({ host: '127.0.0.1', port, path: p, headers: { host }, agent: false }, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => resolve(b)); }).on('error', reject); });
}
it('probe', async () => {
  const nx = await nginxPrefix('probe'); await nx.start();
  const site = { app: 'a', bluePort: 1, greenPort: 2, statusPort: await freePort(), splitKey: '$request_id' };
  const r = new NginxRouter(localRemote(), site, nx.confDir, nx.command);
  for (let k = 0; k < 5; k++) {
    const w = k % 2 ? { blue: 100, green: 0 } : { blue: 0, green: 100 };
    const res = await r.setWeights(w);
    const seen: string[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 300) { const b = JSON.parse(await get(site.statusPort, statusPath('a'), statusHost('a'))); seen.push(`${Date.now()-t0}:${b.weights.blue}`); }
    const wrong = seen.filter((s) => Number(s.split(':')[1]) !== w.blue);
    console.log('live', res.liveMs, 'wrong', wrong.length, 'of', seen.length, wrong.slice(0, 3).join(' '), wrong.slice(-1).join(' '));
  }
  await nx.destroy();
});
