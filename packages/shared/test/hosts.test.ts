import { describe, expect, it } from 'vitest';
import { ConfigurationError, printable } from '../src/action';
import { parseTarget } from '../src/hosts';

describe('parseTarget', () => {
  it.each([
    ['deploy@10.0.0.5', { user: 'deploy', host: '10.0.0.5', port: 22, label: 'deploy@10.0.0.5' }],
    ['deploy@10.0.0.5:22', { user: 'deploy', host: '10.0.0.5', port: 22, label: 'deploy@10.0.0.5' }],
    ['deploy@10.0.0.5:2222', { user: 'deploy', host: '10.0.0.5', port: 2222, label: 'deploy@10.0.0.5:2222' }],
    ['root@web-1.example.com', { user: 'root', host: 'web-1.example.com', port: 22, label: 'root@web-1.example.com' }],
    [
      '_ci.user-1@localhost:65535',
      { user: '_ci.user-1', host: 'localhost', port: 65535, label: '_ci.user-1@localhost:65535' },
    ],
    ['root@[::1]:2222', { user: 'root', host: '::1', port: 2222, label: 'root@[::1]:2222' }],
    ['root@[2001:db8::1]', { user: 'root', host: '2001:db8::1', port: 22, label: 'root@[2001:db8::1]' }],
    ['root@[::ffff:10.0.0.1]:1', { user: 'root', host: '::ffff:10.0.0.1', port: 1, label: 'root@[::ffff:10.0.0.1]:1' }],
  ])('accepts %s', (text, target) => {
    expect(parseTarget(text)).toEqual(target);
  });

  it.each([
    ['deploy@host:0', /invalid port '0'/],
    ['deploy@host:65536', /invalid port '65536'/],
    ['deploy@host:99999', /invalid port '99999'/],
    ['deploy@host:123456', /Expected user@host/],
    ['deploy@host:', /Expected user@host/],
    ['host.example.com', /Expected user@host/],
    ['@host', /Expected user@host/],
    ['deploy@', /Expected user@host/],
    ['de ploy@host', /Expected user@host/],
    ['deploy@ho st', /Expected user@host/],
    ['deploy@host ', /Expected user@host/],
    ['deploy@host;id', /invalid host 'host;id'/],
    ['deploy@host:22;id', /Expected user@host/],
    ['deploy@$(id)', /invalid host/],
    ['-oProxyCommand=id@host', /invalid user '-oProxyCommand=id'/],
    ['deploy@-oProxyCommand=id', /invalid host/],
    ['1deploy@host', /invalid user/],
    ['deploy@a@b', /invalid host 'a@b'/],
    ['deploy@::1', /Expected user@host/],
    ['deploy@[::1', /Expected user@host/],
    ['deploy@[10.0.0.1]', /invalid host '10.0.0.1'/],
    ['deploy@[fe80::1%eth0]', /invalid host/],
    ['deploy@host_name', /invalid host/],
    ['deploy@exa..mple.com', /invalid host/],
    ['', /Expected user@host/],
  ])('rejects %j', (text, message) => {
    expect(() => parseTarget(text)).toThrow(ConfigurationError);
    expect(() => parseTarget(text)).toThrow(message);
  });

  it('shows what was given in the error, with control characters escaped', () => {
    expect(() => parseTarget('deploy@host\nrm -rf /')).toThrow(String.raw`got 'deploy@host\nrm -rf /'`);
  });
});

describe('printable', () => {
  it('escapes control characters and quotes and cuts long values', () => {
    expect(printable('a\nb\t"c"')).toBe(String.raw`a\nb\t\"c\"`);
    expect(printable('x'.repeat(70))).toBe(`${'x'.repeat(60)}…`);
    expect(printable('abcdef', 3)).toBe('abc…');
    expect(printable('abc', 3)).toBe('abc');
  });
});
