import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StateFile } from '../os/state-file.js';
import { recoverDns } from './dns-control.js';
import { parseResolvConf, renderResolvConf } from './resolv-conf.js';
import { ResolvConfControl } from './resolv-conf-control.js';

const log = pino({ level: 'silent' });
const ORIGINAL = '# from DHCP\nnameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch corp.test\noptions edns0\n';
const SENTINELS = ['100.100.111.1', 'fd00:2021:1111:8000:100:100:111:1'];

let dir: string;
let etc: string;
let resolvConf: string;
let stateDir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'postern-dns-'));
  etc = join(dir, 'etc');
  stateDir = join(dir, 'state');
  mkdirSync(etc);
  resolvConf = join(etc, 'resolv.conf');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function control(state = new StateFile(stateDir)) {
  return new ResolvConfControl({ path: resolvConf, state, log, checkIntervalMs: 20 });
}

describe('parseResolvConf', () => {
  it('reads nameservers (deduplicated, zones kept) and keeps search/domain/options lines', () => {
    const parsed = parseResolvConf(
      'nameserver 10.0.0.1\n  nameserver   fe80::1%eth0 \nnameserver 10.0.0.1\nnameserver bogus\n#nameserver 9.9.9.9\n' +
        'domain a.test\nsearch b.test c.test\noptions ndots:2\nsortlist 1.2.3.4\n',
    );
    expect(parsed.nameservers).toEqual(['10.0.0.1', 'fe80::1%eth0']);
    expect(parsed.keptLines).toEqual(['domain a.test', 'search b.test c.test', 'options ndots:2']);
  });
});

describe('ResolvConfControl', () => {
  it('points a regular file at the sentinels, keeps search/options, and restores the exact bytes and mode', async () => {
    writeFileSync(resolvConf, ORIGINAL);
    chmodSync(resolvConf, 0o640);
    const dns = control();
    expect(await dns.readHostResolvers()).toEqual(['192.0.2.53', '2001:db8::53']);
    await dns.apply(SENTINELS);
    expect(readFileSync(resolvConf, 'utf8')).toBe(renderResolvConf(SENTINELS, ['search corp.test', 'options edns0']));
    expect(readFileSync(join(stateDir, 'resolv.conf.backup'), 'utf8')).toBe(ORIGINAL);
    // While active, the host's resolvers are still the original ones, not the sentinels.
    expect(await dns.readHostResolvers()).toEqual(['192.0.2.53', '2001:db8::53']);
    await dns.restore();
    expect(readFileSync(resolvConf, 'utf8')).toBe(ORIGINAL);
    expect(lstatSync(resolvConf).mode & 0o777).toBe(0o640);
    expect(existsSync(join(stateDir, 'resolv.conf.backup'))).toBe(false);
    expect(new StateFile(stateDir).readPrevious()).toEqual({
      ok: true,
      state: expect.objectContaining({ dns: null }),
    });
  });

  it('replaces a symlink with a file, reads the live target, and restores the link itself', async () => {
    const run = join(dir, 'run');
    mkdirSync(run);
    writeFileSync(join(run, 'nm-resolv.conf'), ORIGINAL);
    symlinkSync('../run/nm-resolv.conf', resolvConf);
    const dns = control();
    const changed = vi.fn();
    dns.onHostResolversChanged(changed);
    await dns.apply(SENTINELS);
    expect(lstatSync(resolvConf).isSymbolicLink()).toBe(false);
    // The link's owner keeps maintaining its file while we are connected: the new upstream is picked up.
    writeFileSync(join(run, 'nm-resolv.conf'), 'nameserver 198.51.100.53\n');
    await vi.waitFor(() => expect(changed).toHaveBeenCalledWith(['198.51.100.53']));
    expect(readFileSync(join(run, 'nm-resolv.conf'), 'utf8')).toBe('nameserver 198.51.100.53\n');
    await dns.restore();
    expect(readlinkSync(resolvConf)).toBe('../run/nm-resolv.conf');
  });

  it('removes its file when there was no resolv.conf', async () => {
    const dns = control();
    await dns.apply(SENTINELS);
    expect(existsSync(resolvConf)).toBe(true);
    await dns.restore();
    expect(existsSync(resolvConf)).toBe(false);
  });

  it('takes over an external rewrite: new original, new resolvers, ours written again', async () => {
    writeFileSync(resolvConf, ORIGINAL);
    const dns = control();
    const changed = vi.fn();
    dns.onHostResolversChanged(changed);
    await dns.apply(SENTINELS);
    const rewritten = 'nameserver 203.0.113.9\nsearch other.test\n';
    // NetworkManager-style: write a new file and rename it over.
    writeFileSync(join(etc, 'nm.tmp'), rewritten);
    renameSync(join(etc, 'nm.tmp'), resolvConf);
    await vi.waitFor(() => expect(changed).toHaveBeenCalledWith(['203.0.113.9']));
    expect(readFileSync(resolvConf, 'utf8')).toBe(renderResolvConf(SENTINELS, ['search other.test']));
    expect(await dns.readHostResolvers()).toEqual(['203.0.113.9']);
    await dns.restore();
    expect(readFileSync(resolvConf, 'utf8')).toBe(rewritten);
  });

  it('re-applies after an in-place rewrite too', async () => {
    writeFileSync(resolvConf, ORIGINAL);
    const dns = control();
    await dns.apply(SENTINELS);
    writeFileSync(resolvConf, 'nameserver 203.0.113.10\n');
    await vi.waitFor(() => expect(readFileSync(resolvConf, 'utf8')).toContain('nameserver 100.100.111.1'));
    dns.close();
  });

  it('is undone from the state file after a crash', async () => {
    writeFileSync(resolvConf, ORIGINAL);
    const crashed = control();
    await crashed.apply(SENTINELS);
    crashed.close(); // the process dies: no restore

    const state = new StateFile(stateDir);
    const previous = state.readPrevious();
    expect(previous.ok && previous.state?.dns?.mode).toBe('resolv-conf');
    if (!previous.ok || !previous.state?.dns) throw new Error('no record');
    await recoverDns(previous.state.dns, { state, log, run: async () => ({ code: 0, stdout: '', stderr: '' }) });
    expect(readFileSync(resolvConf, 'utf8')).toBe(ORIGINAL);
    expect(existsSync(join(stateDir, 'resolv.conf.backup'))).toBe(false);
  });

  it('leaves a resolv.conf alone at recovery when someone replaced ours since the crash', async () => {
    writeFileSync(resolvConf, ORIGINAL);
    const crashed = control();
    await crashed.apply(SENTINELS);
    crashed.close();
    writeFileSync(resolvConf, 'nameserver 203.0.113.1\n');

    const state = new StateFile(stateDir);
    const previous = state.readPrevious();
    if (!previous.ok || !previous.state?.dns) throw new Error('no record');
    await recoverDns(previous.state.dns, { state, log, run: async () => ({ code: 0, stdout: '', stderr: '' }) });
    expect(readFileSync(resolvConf, 'utf8')).toBe('nameserver 203.0.113.1\n');
  });
});

describe('StateFile', () => {
  it('reports a corrupt state file as an error instead of throwing', () => {
    mkdirSync(stateDir);
    writeFileSync(join(stateDir, 'state.json'), '{"version":1');
    expect(new StateFile(stateDir).readPrevious()).toMatchObject({ ok: false, error: expect.stringContaining('JSON') });
    writeFileSync(join(stateDir, 'state.json'), '{"version":2}');
    expect(new StateFile(stateDir).readPrevious()).toMatchObject({
      ok: false,
      error: expect.stringContaining('invalid'),
    });
  });
});
