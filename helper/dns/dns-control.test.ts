import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunCommand } from '../os/command.js';
import { StateFile } from '../os/state-file.js';
import { createDnsControl, detectDnsMode, recoverDns } from './dns-control.js';

const log = pino({ level: 'silent' });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'postern-dnsmode-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function recorder(): { run: RunCommand; calls: string[][] } {
  const calls: string[][] = [];
  return { calls, run: async (cmd, args) => (calls.push([cmd, ...args]), { code: 0, stdout: '', stderr: '' }) };
}

describe('detectDnsMode', () => {
  it('picks systemd-resolved only when resolv.conf points at its stub and resolvectl exists', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'resolvectl'), '');
    const stub = join(dir, 'stub.conf');
    writeFileSync(stub, 'nameserver 127.0.0.53\noptions edns0 trust-ad\n');
    const link = join(dir, 'link.conf');
    symlinkSync('/run/systemd/resolve/stub-resolv.conf', link);
    const plain = join(dir, 'plain.conf');
    writeFileSync(plain, 'nameserver 10.0.0.1\n');

    expect(detectDnsMode(stub, bin)).toBe('systemd-resolved');
    expect(detectDnsMode(link, bin)).toBe('systemd-resolved');
    expect(detectDnsMode(plain, bin)).toBe('resolv-conf');
    expect(detectDnsMode(stub, join(dir, 'nothing'))).toBe('resolv-conf');
    expect(detectDnsMode(join(dir, 'missing'), bin)).toBe('resolv-conf');
  });
});

describe('systemd-resolved control', () => {
  it('sets the sentinels and ~. on the TUN link with argument arrays, reads upstreams without sentinels, reverts', async () => {
    const upstreams = join(dir, 'upstreams.conf');
    writeFileSync(upstreams, 'nameserver 10.0.0.53\nnameserver 100.100.111.1\n');
    const state = new StateFile(join(dir, 'state'));
    const { run, calls } = recorder();
    const dns = createDnsControl({
      mode: 'systemd-resolved',
      tunName: 'tun-p0',
      state,
      log,
      run,
      resolvedUpstreamsPath: upstreams,
    });
    await dns.apply(['100.100.111.1']);
    expect(await dns.readHostResolvers()).toEqual(['10.0.0.53']);
    expect(state.readPrevious()).toMatchObject({
      ok: true,
      state: { dns: { mode: 'systemd-resolved', link: 'tun-p0' } },
    });
    await dns.restore();
    expect(calls).toEqual([
      ['resolvectl', 'dns', 'tun-p0', '100.100.111.1'],
      ['resolvectl', 'domain', 'tun-p0', '~.'],
      ['resolvectl', 'default-route', 'tun-p0', 'true'],
      ['resolvectl', 'revert', 'tun-p0'],
    ]);
    expect(state.state.dns).toBeNull();
  });

  it('recovers a crashed run by reverting the link, even when the link is gone', async () => {
    const state = new StateFile(join(dir, 'state'));
    const calls: string[][] = [];
    const run: RunCommand = async (cmd, args) => (
      calls.push([cmd, ...args]),
      { code: 1, stdout: '', stderr: 'no link' }
    );
    await recoverDns({ mode: 'systemd-resolved', link: 'tun-old' }, { state, log, run });
    expect(calls).toEqual([['resolvectl', 'revert', 'tun-old']]);
  });
});
