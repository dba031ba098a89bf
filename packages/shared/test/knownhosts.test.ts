import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../src/action';
import { parseKnownHosts, verifyHostKey } from '../src/hosts';
import { tempDir } from './support/local-remote';
import { fingerprint } from '../src/hosts/knownhosts';

/** A real ed25519 host key made by ssh-keygen: its public line and the SSH wire blob a server presents. */
interface HostKey {
  line: string;
  blob: Buffer;
  fingerprint: string;
}

let dir: string;
const keys: HostKey[] = [];

async function makeKey(name: string): Promise<HostKey> {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  const [type = '', base64 = ''] = (await fs.readFile(`${file}.pub`, 'utf8')).trim().split(' ');
  const listed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' });
  return { line: `${type} ${base64}`, blob: Buffer.from(base64, 'base64'), fingerprint: listed.split(' ')[1] ?? '' };
}

/** Writes plain known_hosts lines and lets ssh-keygen hash them (`ssh-keygen -H`). */
async function hashed(lines: string[]): Promise<string> {
  const file = path.join(dir, `known_hosts_${Math.random().toString(36).slice(2)}`);
  await fs.writeFile(file, `${lines.join('\n')}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
  return fs.readFile(file, 'utf8');
}

beforeAll(async () => {
  dir = await tempDir('knownhosts');
  for (const name of ['k1', 'k2', 'k3']) keys.push(await makeKey(name));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const key = (index: number): HostKey => keys[index] as HostKey;
const verdict = (text: string, host: string, port: number, presented: HostKey) =>
  verifyHostKey(parseKnownHosts(text), host, port, presented.blob);

describe('fingerprint', () => {
  it('is the SHA256 fingerprint ssh-keygen -l prints', () => {
    for (const hostKey of keys) expect(fingerprint(hostKey.blob)).toBe(hostKey.fingerprint);
    expect(key(0).fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('verifyHostKey with plain entries', () => {
  it('accepts the listed key, reports a different key as changed and an unlisted host as unknown', () => {
    const text = `10.0.0.5 ${key(0).line}`;
    expect(verdict(text, '10.0.0.5', 22, key(0))).toEqual({ ok: true, fingerprint: key(0).fingerprint });
    expect(verdict(text, '10.0.0.5', 22, key(1))).toEqual({
      ok: false,
      reason: 'changed',
      fingerprint: key(1).fingerprint,
    });
    expect(verdict(text, '10.0.0.6', 22, key(0))).toEqual({
      ok: false,
      reason: 'unknown',
      fingerprint: key(0).fingerprint,
    });
  });

  it('uses the [host]:port form for ports other than 22, and only it', () => {
    const text = [`[127.0.0.1]:2222 ${key(0).line}`, `127.0.0.1 ${key(1).line}`].join('\n');
    expect(verdict(text, '127.0.0.1', 2222, key(0)).ok).toBe(true);
    expect(verdict(text, '127.0.0.1', 2222, key(1))).toMatchObject({ ok: false, reason: 'changed' });
    expect(verdict(text, '127.0.0.1', 22, key(1)).ok).toBe(true);
    expect(verdict(text, '127.0.0.1', 22, key(0))).toMatchObject({ ok: false, reason: 'changed' });
    expect(verdict(text, '127.0.0.1', 2200, key(0))).toMatchObject({ ok: false, reason: 'unknown' });
    expect(verdict(`[::1]:2222 ${key(0).line}`, '::1', 2222, key(0)).ok).toBe(true);
  });

  it('matches any name of a comma-separated list, case-insensitively', () => {
    const text = `web1,web1.example.com,10.0.0.5 ${key(0).line}`;
    expect(verdict(text, 'web1.example.com', 22, key(0)).ok).toBe(true);
    expect(verdict(text, '10.0.0.5', 22, key(0)).ok).toBe(true);
    expect(verdict(text, 'WEB1.Example.COM', 22, key(0)).ok).toBe(true);
    expect(verdict(text, 'web2', 22, key(0))).toMatchObject({ reason: 'unknown' });
  });

  it('matches wildcards * and ? without treating dots as regex wildcards', () => {
    const text = [`*.example.com ${key(0).line}`, `db?.internal ${key(1).line}`].join('\n');
    expect(verdict(text, 'web1.example.com', 22, key(0)).ok).toBe(true);
    expect(verdict(text, 'example.com', 22, key(0))).toMatchObject({ reason: 'unknown' });
    expect(verdict(text, 'web1.exampleXcom', 22, key(0))).toMatchObject({ reason: 'unknown' });
    expect(verdict(text, 'db1.internal', 22, key(1)).ok).toBe(true);
    expect(verdict(text, 'db12.internal', 22, key(1))).toMatchObject({ reason: 'unknown' });
    expect(verdict(`* ${key(2).line}`, '203.0.113.9', 2222, key(2)).ok).toBe(true);
  });

  it('lets a negated pattern exclude a host that another pattern of the line matches', () => {
    const text = `*.example.com,!bastion.example.com ${key(0).line}`;
    expect(verdict(text, 'web.example.com', 22, key(0)).ok).toBe(true);
    expect(verdict(text, 'bastion.example.com', 22, key(0))).toMatchObject({ ok: false, reason: 'unknown' });
    // A line of only negations matches nothing.
    expect(verdict(`!other ${key(0).line}`, 'web', 22, key(0))).toMatchObject({ reason: 'unknown' });
  });

  it('refuses a @revoked key even where the same key is also listed as known', () => {
    const text = [`web1 ${key(0).line}`, `web1 ${key(1).line}`, `@revoked * ${key(1).line}`].join('\n');
    expect(verdict(text, 'web1', 22, key(1))).toEqual({
      ok: false,
      reason: 'revoked',
      fingerprint: key(1).fingerprint,
    });
    expect(verdict(text, 'web1', 22, key(0)).ok).toBe(true);
    expect(verdict(text, 'web2', 22, key(1))).toMatchObject({ reason: 'revoked' });
  });

  it('does not take a @cert-authority line as a known host key', () => {
    expect(verdict(`@cert-authority * ${key(0).line}`, 'web1', 22, key(0))).toMatchObject({
      ok: false,
      reason: 'unknown',
    });
  });

  it('skips comments, blank lines and CRLF line ends, and ignores a trailing comment', () => {
    const text = ['# keys of production', '', `   web1 ${key(0).line} root@web1   `, '\t', `web2 ${key(1).line}`].join(
      '\r\n',
    );
    const entries = parseKnownHosts(text);
    expect(entries).toHaveLength(2);
    expect(verifyHostKey(entries, 'web1', 22, key(0).blob).ok).toBe(true);
    expect(verifyHostKey(entries, 'web2', 22, key(1).blob).ok).toBe(true);
    expect(parseKnownHosts('')).toEqual([]);
  });
});

describe('verifyHostKey with hashed entries from ssh-keygen -H', () => {
  it('matches the hashed host and [host]:port names and nothing else', async () => {
    const text = await hashed([`web1.example.com ${key(0).line}`, `[127.0.0.1]:2222 ${key(1).line}`]);
    expect(text).toMatch(/^\|1\|/m);
    expect(text).not.toContain('web1');
    expect(text).not.toContain('127.0.0.1');
    expect(verdict(text, 'web1.example.com', 22, key(0)).ok).toBe(true);
    expect(verdict(text, 'web1.example.com', 22, key(2))).toMatchObject({ reason: 'changed' });
    expect(verdict(text, 'web2.example.com', 22, key(0))).toMatchObject({ reason: 'unknown' });
    expect(verdict(text, '127.0.0.1', 2222, key(1)).ok).toBe(true);
    expect(verdict(text, '127.0.0.1', 22, key(1))).toMatchObject({ reason: 'unknown' });
  });

  it('matches a host written in capitals, as ssh (which lower-cases host names) does', async () => {
    const text = await hashed([`Web1.Example.com ${key(0).line}`]);
    expect(verdict(text, 'web1.example.com', 22, key(0)).ok).toBe(true);
    expect(verdict(text, 'WEB1.example.com', 22, key(0)).ok).toBe(true);
  });

  it('does not match a damaged hash', () => {
    expect(verdict(`|1|notbase64|x ${key(0).line}`, 'web1', 22, key(0))).toMatchObject({ reason: 'unknown' });
    expect(verdict(`|2|AAAA|BBBB ${key(0).line}`, 'web1', 22, key(0))).toMatchObject({ reason: 'unknown' });
  });
});

describe('parseKnownHosts rejects malformed lines, naming the line', () => {
  it.each([
    ['web1', 'line 1: expected'],
    [`web1 ssh-ed25519`, 'line 1: expected'],
    [`# ok\nweb1 ssh-ed25519 not*base64`, 'line 2: expected'],
    [`@revoked web1`, 'line 1: expected'],
    [`@trusted web1 ssh-ed25519 AAAA`, "line 1: unknown marker '@trusted'"],
  ])('%j', (text, message) => {
    expect(() => parseKnownHosts(text)).toThrow(ConfigurationError);
    expect(() => parseKnownHosts(text)).toThrow(`ssh-known-hosts ${message}`);
  });
});
