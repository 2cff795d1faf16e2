import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunCommand } from './command.js';
import { normalizePrefix, prefixContains, removeRecorded, RouteControl } from './routes.js';
import { StateFile } from './state-file.js';

const log = pino({ level: 'silent' });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'postern-routes-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function recorder(): { run: RunCommand; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run: async (cmd, args) => (calls.push([cmd, ...args].join(' ')), { code: 0, stdout: '', stderr: '' }),
  };
}

describe('prefix helpers', () => {
  it('normalizes prefixes and bare addresses', () => {
    expect(normalizePrefix('10.1.2.3/8')).toEqual({ family: 4, prefix: '10.0.0.0/8' });
    expect(normalizePrefix('192.0.2.7')).toEqual({ family: 4, prefix: '192.0.2.7/32' });
    expect(normalizePrefix('fd00:2021:1111:8000:0:0:0:1/107')).toEqual({
      family: 6,
      prefix: 'fd00:2021:1111:8000::/107',
    });
  });
  it('tests containment across families and with zones', () => {
    expect(prefixContains('10.0.0.0/8', '10.9.9.9')).toBe(true);
    expect(prefixContains('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(prefixContains('fe80::/10', 'fe80::1%eth0')).toBe(true);
    expect(prefixContains('10.0.0.0/8', 'fe80::1')).toBe(false);
    expect(prefixContains('10.0.0.0/8', 'gateway.corp.test')).toBe(false);
  });
});

describe('RouteControl', () => {
  it('leaves IPv6 out where the TUN cannot carry it', async () => {
    const state = new StateFile(dir);
    const { run, calls } = recorder();
    const routes = new RouteControl({ run, state, tunName: 'tun-x', log, ipv6: false });
    await routes.set(['100.96.0.0/11', 'fd00:2021:1111:8000::/107', 'fd00:1::/64'], ['10.0.0.53', 'fd00:1::53']);
    expect(calls).toEqual([
      'ip -4 rule del lookup 28783 priority 5190',
      'ip -4 rule add lookup 28783 priority 5190',
      'ip -4 route replace 100.96.0.0/11 dev tun-x table 28783',
    ]);
    expect(routes.routes).toEqual(['100.96.0.0/11']);
  });

  it('adds rules before routes, bypasses covered helper peers, diffs on change, records everything', async () => {
    const state = new StateFile(dir);
    const { run, calls } = recorder();
    const routes = new RouteControl({ run, state, tunName: 'tun-x', log });
    await routes.set(['100.96.0.0/11', 'fd00:2021:1111:8000::/107', '10.0.0.0/8'], ['10.0.0.53', '192.0.2.1']);
    expect(calls).toEqual([
      'ip -4 rule del to 10.0.0.53/32 lookup main priority 5180',
      'ip -4 rule add to 10.0.0.53/32 lookup main priority 5180',
      'ip -4 rule del to 10.0.0.53/32 unreachable priority 5181',
      'ip -4 rule add to 10.0.0.53/32 unreachable priority 5181',
      'ip -4 rule del lookup 28783 priority 5190',
      'ip -4 rule add lookup 28783 priority 5190',
      'ip -6 rule del lookup 28783 priority 5190',
      'ip -6 rule add lookup 28783 priority 5190',
      'ip -4 route replace 100.96.0.0/11 dev tun-x table 28783',
      'ip -6 route replace fd00:2021:1111:8000::/107 dev tun-x table 28783',
      'ip -4 route replace 10.0.0.0/8 dev tun-x table 28783',
    ]);
    expect(state.readPrevious()).toMatchObject({ ok: true, state: { routes: { length: 3 }, rules: { length: 4 } } });

    calls.length = 0;
    await routes.set(['100.96.0.0/11', 'fd00:2021:1111:8000::/107'], ['10.0.0.53']);
    expect(calls).toEqual([
      'ip -4 route del 10.0.0.0/8 dev tun-x table 28783',
      'ip -4 rule del to 10.0.0.53/32 lookup main priority 5180',
      'ip -4 rule del to 10.0.0.53/32 unreachable priority 5181',
    ]);
    expect(routes.routes).toEqual(['100.96.0.0/11', 'fd00:2021:1111:8000::/107']);

    calls.length = 0;
    await removeRecorded(run, state, log);
    expect(calls).toEqual([
      'ip -4 route del 100.96.0.0/11 dev tun-x table 28783',
      'ip -6 route del fd00:2021:1111:8000::/107 dev tun-x table 28783',
      'ip -4 rule del lookup 28783 priority 5190',
      'ip -6 rule del lookup 28783 priority 5190',
    ]);
    expect(state.state.routes).toEqual([]);
  });
});
