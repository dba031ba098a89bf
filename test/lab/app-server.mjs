#!/usr/bin/env node
// "Agent Loop" demo service used by the test lab. Plain JavaScript, no
// dependencies: the lab copies this file into its folder and runs it with
// `node app-server.mjs --app A --color C --port P --version V --knobs DIR`.
//
// Behaviour is steered at run time by DIR/<version>.json ("knobs"), re-read
// every 200 ms; a missing file means defaults.
import http from 'node:http';
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else out[a.slice(2)] = argv[++i] ?? '';
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const app = args.app || 'agentloop';
const color = args.color || 'blue';
const version = args.version || 'dev';
const port = Number(args.port);
const knobsDir = args.knobs || '';
// Inside a container the app must listen on every interface for a published port to reach it.
const listenHost = args.host || '127.0.0.1';
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`app-server: invalid --port ${JSON.stringify(args.port)}`);
  process.exit(2);
}

const startedAt = Date.now();
let knobs = {};

async function loadKnobs() {
  if (!knobsDir) return;
  let text;
  try {
    text = await readFile(join(knobsDir, `${version}.json`), 'utf8');
  } catch {
    knobs = {}; // missing file = defaults
    return;
  }
  try {
    const parsed = JSON.parse(text);
    knobs = parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    // Keep the previous knobs on a torn or invalid file.
  }
}

const num = (v, d) => (typeof v === 'number' && Number.isFinite(v) ? v : d);

// ---------------------------------------------------------------- metrics
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const counters = new Map(); // key -> { labels, value }
const histograms = new Map(); // key -> { labels, buckets[], sum, count }
const knownPaths = new Set(['/', '/health', '/ready', '/metrics', '/run-agent']);
const MAX_PATHS = 100;

function pathLabel(p) {
  if (knownPaths.has(p)) return p;
  if (knownPaths.size < MAX_PATHS) {
    knownPaths.add(p);
    return p;
  }
  return 'other';
}

function esc(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
function labelText(labels) {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${esc(v)}"`)
    .join(',');
}

function observe(method, path, status, seconds) {
  const base = { app, color, version, method, path };
  const cl = { ...base, status: String(status) };
  const ck = labelText(cl);
  const c = counters.get(ck);
  if (c) c.value++;
  else counters.set(ck, { labels: cl, value: 1 });
  const hk = labelText(base);
  let h = histograms.get(hk);
  if (!h) {
    h = { labels: base, buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
    histograms.set(hk, h);
  }
  for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]) h.buckets[i]++;
  h.sum += seconds;
  h.count++;
}

function fmt(n) {
  if (n === Infinity) return '+Inf';
  if (Number.isNaN(n)) return 'NaN';
  return String(n);
}

function metricsText() {
  const lines = [];
  lines.push('# HELP http_requests_total Total HTTP requests served, by status.');
  lines.push('# TYPE http_requests_total counter');
  for (const c of counters.values()) lines.push(`http_requests_total{${labelText(c.labels)}} ${c.value}`);
  lines.push('# HELP http_request_duration_seconds HTTP request duration in seconds.');
  lines.push('# TYPE http_request_duration_seconds histogram');
  for (const h of histograms.values()) {
    const lt = labelText(h.labels);
    for (let i = 0; i < BUCKETS.length; i++) {
      lines.push(`http_request_duration_seconds_bucket{${lt},le="${fmt(BUCKETS[i])}"} ${h.buckets[i]}`);
    }
    lines.push(`http_request_duration_seconds_bucket{${lt},le="+Inf"} ${h.count}`);
    lines.push(`http_request_duration_seconds_sum{${lt}} ${fmt(h.sum)}`);
    lines.push(`http_request_duration_seconds_count{${lt}} ${h.count}`);
  }
  const rss = process.memoryUsage().rss;
  lines.push('# HELP process_resident_memory_bytes Resident memory size in bytes.');
  lines.push('# TYPE process_resident_memory_bytes gauge');
  lines.push(`process_resident_memory_bytes ${rss}`);
  const ratio = typeof knobs.memoryPercent === 'number' ? knobs.memoryPercent / 100 : rss / os.totalmem();
  lines.push('# HELP agent_loop_memory_usage_ratio Memory usage as a ratio of the limit (0..1).');
  lines.push('# TYPE agent_loop_memory_usage_ratio gauge');
  lines.push(`agent_loop_memory_usage_ratio ${fmt(ratio)}`);
  lines.push('# HELP agent_loop_model_drift_score Model drift score reported by the agent.');
  lines.push('# TYPE agent_loop_model_drift_score gauge');
  lines.push(`agent_loop_model_drift_score ${fmt(num(knobs.driftScore, 0))}`);
  lines.push('# HELP agent_loop_info Build information.');
  lines.push('# TYPE agent_loop_info gauge');
  lines.push(`agent_loop_info{${labelText({ version, color })}} 1`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------- server
let shuttingDown = false;

function send(res, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers = { 'content-type': type, 'content-length': Buffer.byteLength(text) };
  if (shuttingDown) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(text);
}

function readBody(req, limit = 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function handle(req, res) {
  const url = new URL(req.url || '/', 'http://localhost');
  const path = url.pathname;
  const method = req.method || 'GET';
  res.setHeader('x-version', version);
  res.setHeader('x-color', color);

  if (method === 'GET' || method === 'HEAD') {
    if (path === '/health') {
      const status = num(knobs.healthStatus, 200);
      return send(res, status, { status: status >= 200 && status < 300 ? 'ok' : 'unhealthy', version, color });
    }
    if (path === '/ready') {
      const ready = Date.now() - startedAt >= num(knobs.readyDelayMs, 0);
      return send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'starting', version, color });
    }
    if (path === '/metrics') {
      return send(res, 200, metricsText(), 'text/plain; version=0.0.4; charset=utf-8');
    }
  }

  const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? await readBody(req) : '';

  const latency = num(knobs.latencyMs, 0) + Math.random() * num(knobs.latencyJitterMs, 0);
  if (latency > 0) await sleep(latency);
  if (Math.random() < num(knobs.errorRate, 0)) {
    return send(res, 500, { error: 'injected failure', version, color });
  }

  if (path === '/run-agent' && method === 'POST') {
    let input;
    try {
      input = JSON.parse(body);
    } catch {
      return send(res, 400, { error: 'invalid JSON body', version, color });
    }
    if (!input || typeof input !== 'object' || typeof input.instruction !== 'string') {
      return send(res, 400, { error: 'body must be {"instruction": string, "use_ollama": bool}', version, color });
    }
    const engine = input.use_ollama === true ? 'ollama' : 'builtin';
    return send(res, 200, {
      result: `[${app} ${version}/${color} via ${engine}] done: ${input.instruction}`,
      version,
      color,
      instruction: input.instruction,
    });
  }

  return send(res, 200, { app, version, color, path });
}

const server = http.createServer((req, res) => {
  const t0 = process.hrtime.bigint();
  const path = pathLabel(new URL(req.url || '/', 'http://localhost').pathname);
  const method = req.method || 'GET';
  res.on('finish', () => {
    if (path === '/metrics') return; // scrapes are not service traffic
    observe(method, path, res.statusCode, Number(process.hrtime.bigint() - t0) / 1e9);
  });
  handle(req, res).catch((err) => {
    if (!res.headersSent) send(res, 500, { error: String(err && err.message ? err.message : err) });
    else res.destroy();
  });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

server.on('error', (err) => {
  console.error(`app-server: ${err.message}`);
  process.exit(1);
});

await loadKnobs();
const knobTimer = setInterval(() => void loadKnobs(), 200);

server.listen(port, listenHost, () => {
  console.log(`app-server ${app} ${version} (${color}) listening on ${listenHost}:${port} pid ${process.pid}`);
});

function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`app-server: ${signal}, draining`);
  clearInterval(knobTimer);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // Connections busy now become idle after their response: close those too.
  setInterval(() => server.closeIdleConnections(), 50).unref();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
