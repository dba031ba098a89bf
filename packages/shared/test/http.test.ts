import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { excerpt, getJson } from '../src/action';
import { readCapped } from '../src/action/http';

/** A server that answers without end, one that declares a huge body, and one whose error page carries markup and control characters. */
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === '/endless') {
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const timer = setInterval(() => response.write(chunk), 1);
      response.on('close', () => clearInterval(timer));
      return;
    }
    if (request.url === '/declared') {
      response.writeHead(200, { 'content-length': String(100 * 1024 * 1024) });
      response.write('{');
      return;
    }
    response.writeHead(503, { 'content-type': 'text/html' });
    response.end(`<html>\u001b[31m::add-mask::x\nbad gateway ${'z'.repeat(5000)}</html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('answers from the network are read with a cap', () => {
  it('stops reading an answer that never ends', async () => {
    const response = await fetch(`${base}/endless`);
    await expect(readCapped(response, 1024 * 1024)).rejects.toThrow(/more than the 1048576 bytes this client reads/);
  });

  it('refuses a declared length over the cap without reading it', async () => {
    const response = await fetch(`${base}/declared`);
    await expect(readCapped(response, 1024 * 1024)).rejects.toThrow(
      /the answer is 104857600 bytes, more than the 1048576/,
    );
  });

  it('an error quotes a short, escaped excerpt of the body', async () => {
    const error = (await getJson(`${base}/error`, { attempts: 1 }).catch((caught: unknown) => caught)) as Error;
    expect(error.message.length).toBeLessThan(260);
    expect(error.message).toMatch(/^HTTP 503: <html>\\u001b\[31m::add-mask::x\\nbad gateway z+…$/);
    expect(excerpt('a\nb', 10)).toBe('a\\nb');
  });
});
