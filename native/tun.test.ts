import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADDON_CANDIDATES, NativeAddonMissingError, loadAddon, type NativeAddon } from './addon.js';
import { UnsupportedPlatformError, type NativeRuntime } from './platform.js';
import { TunDevice } from './tun.js';

// No root needed: everything here fails before a device would be created.
const noAddon = (): NativeAddon => {
  throw new Error('the addon must not be loaded for this case');
};
const linux: NativeRuntime = { platform: 'linux', loadAddon: noAddon };

describe('TunDevice.open without a device', () => {
  it.each(['darwin', 'win32', 'freebsd'] as const)('refuses %s with a clear error, before loading the addon', (os) => {
    const open = () => TunDevice.open({ mtu: 1400 }, { platform: os, loadAddon: noAddon });
    expect(open).toThrow(UnsupportedPlatformError);
    expect(open).toThrow(`a TUN device is not supported on this OS yet (${os})`);
  });

  it.each([
    ['', 'it is empty'],
    ['a-very-long-name', 'it is 16 bytes long; Linux allows at most 15'],
    ['ümläutümläut', 'it is 16 bytes long'],
    ['.', 'it is "." or ".."'],
    ['..', 'it is "." or ".."'],
    ['tun/0', 'it contains "/", ":", NUL or whitespace'],
    ['tun:0', 'it contains "/", ":", NUL or whitespace'],
    ['tun 0', 'it contains "/", ":", NUL or whitespace'],
    ['tun\t0', 'it contains "/", ":", NUL or whitespace'],
    ['tun\0', 'it contains "/", ":", NUL or whitespace'],
    ['tun%s', '"%" may appear only once, as "%d"'],
    ['t%d%d', '"%" may appear only once, as "%d"'],
    ['tun%', '"%" may appear only once, as "%d"'],
  ])('rejects the name %j: %s', (name, why) => {
    const open = () => TunDevice.open({ name, mtu: 1400 }, linux);
    expect(open).toThrow(RangeError);
    expect(open).toThrow(`invalid TUN device name ${JSON.stringify(name)}: ${why}`);
  });

  it('accepts valid names and templates (reaching the addon)', () => {
    for (const name of ['tun0', 'pt%d', 'a', 'x'.repeat(15), 'wg-postern.1']) {
      expect(() => TunDevice.open({ name, mtu: 1400 }, linux)).toThrow('the addon must not be loaded');
    }
  });

  it.each([
    [{ mtu: 67 }, 'TUN option mtu must be an integer from 68 to 65535 (got 67)'],
    [{ mtu: 65536 }, 'TUN option mtu must be an integer from 68 to 65535'],
    [{ mtu: 1400.5 }, 'TUN option mtu must be an integer'],
    [{ mtu: 1400, maxBatchPackets: 0 }, 'TUN option maxBatchPackets must be an integer from 1 to 4096'],
    [{ mtu: 1400, maxPendingBatches: 2000 }, 'TUN option maxPendingBatches must be an integer from 1 to 1024'],
  ])('rejects options %j', (options, message) => {
    expect(() => TunDevice.open(options, linux)).toThrow(RangeError);
    expect(() => TunDevice.open(options, linux)).toThrow(message);
  });

  it('rejects a non-number MTU with a TypeError', () => {
    expect(() => TunDevice.open({ mtu: '1400' as unknown as number }, linux)).toThrow(TypeError);
  });

  it('says how to build the addon when it is missing', () => {
    const missing = ['/nonexistent/postern_native.node'];
    expect(() => loadAddon(missing)).toThrow(NativeAddonMissingError);
    expect(() => loadAddon(missing)).toThrow(/not built .*\/nonexistent\/postern_native\.node.*npm ci/);
    const open = () => TunDevice.open({ mtu: 1400 }, { platform: 'linux', loadAddon: () => loadAddon(missing) });
    expect(open).toThrow(NativeAddonMissingError);
  });

  it('refuses a file that is not a loadable addon, or not this addon', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-addon-'));
    try {
      const garbage = join(dir, 'postern_native.node');
      writeFileSync(garbage, 'not a shared object');
      expect(() => loadAddon([garbage])).toThrow(/does not load .*rebuild it/);
      const other = join(dir, 'other.js');
      writeFileSync(other, 'module.exports = { TunHandle: 1 };');
      expect(() => loadAddon([other])).toThrow('is not the Postern native addon');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the addon built by npm ci from the sources', () => {
    const addon = loadAddon(ADDON_CANDIDATES);
    expect(typeof addon.TunHandle).toBe('function');
    expect(typeof addon.peerCredentials).toBe('function');
  });
});
