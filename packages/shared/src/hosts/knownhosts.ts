import { createHash, createHmac } from 'node:crypto';
import { ConfigurationError } from '../action';

/** One usable line of an OpenSSH known_hosts file. */
interface Entry {
  marker: '' | '@revoked' | '@cert-authority';
  patterns: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyVerdict =
  { ok: true; fingerprint: string } | { ok: false; reason: 'unknown' | 'changed' | 'revoked'; fingerprint: string };

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export function parseKnownHosts(text: string): Entry[] {
  const entries: Entry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? (fields.shift() as string) : '';
    if (marker !== '' && marker !== '@revoked' && marker !== '@cert-authority') {
      throw new ConfigurationError(`ssh-known-hosts line ${index + 1}: unknown marker '${marker}'`);
    }
    const [patterns, keyType, keyBase64] = fields;
    if (!patterns || !keyType || !keyBase64 || !/^[A-Za-z0-9+/]+=*$/.test(keyBase64)) {
      throw new ConfigurationError(
        `ssh-known-hosts line ${index + 1}: expected 'host key-type base64-key' as written by ssh-keyscan`,
      );
    }
    entries.push({ marker: marker as Entry['marker'], patterns, keyType, key: Buffer.from(keyBase64, 'base64') });
  });
  return entries;
}

/**
 * The names a host is listed under: `host` on port 22, `[host]:port` otherwise. Lower-cased, as ssh
 * does before looking a host up (and as `ssh-keygen -H` hashes it), so hashed entries match too.
 */
function hostName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function matchesHashed(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

function matches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return matchesHashed(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Checks a host key (the SSH wire blob) against known_hosts entries, as `StrictHostKeyChecking yes` would. */
export function verifyHostKey(entries: Entry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = hostName(host, port);
  const print = fingerprint(key);
  const forHost = entries.filter((entry) => entry.marker !== '@cert-authority' && matches(entry.patterns, name));
  if (forHost.some((entry) => entry.marker === '@revoked' && entry.key.equals(key)))
    return { ok: false, reason: 'revoked', fingerprint: print };
  const known = forHost.filter((entry) => entry.marker === '');
  if (known.some((entry) => entry.key.equals(key))) return { ok: true, fingerprint: print };
  return { ok: false, reason: known.length === 0 ? 'unknown' : 'changed', fingerprint: print };
}
