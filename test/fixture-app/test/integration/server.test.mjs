// Starts the service as a process and asks each endpoint once.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

let server;
let base;

async function freePort() {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  return port;
}

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, ['app-server.mjs', '--port', String(port), '--version', 'integration'], {
    stdio: 'inherit',
  });
  for (let tries = 0; tries < 100; tries++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the service never answered /health');
});

after(() => server?.kill());

test('health and ready answer 200', async () => {
  assert.equal((await fetch(`${base}/health`)).status, 200);
  assert.equal((await fetch(`${base}/ready`)).status, 200);
});

test('run-agent answers a task', async () => {
  const response = await fetch(`${base}/run-agent`, {
    method: 'POST',
    body: JSON.stringify({ instruction: 'hello', use_ollama: false }),
  });
  assert.equal(response.status, 200);
});

test('metrics are in the Prometheus text format', async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /^# (HELP|TYPE) /m);
});
