import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateDeviceKey } from './device-key.js';

describe('device key', () => {
  it('is created once (0600), reloaded unchanged, and its public key matches wg pubkey', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-key-'));
    try {
      const first = loadOrCreateDeviceKey(dir);
      const again = loadOrCreateDeviceKey(dir);
      expect(again).toEqual(first);
      expect(statSync(join(dir, 'device.key')).mode & 0o777).toBe(0o600);
      expect(first.publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      let wg: string | undefined;
      try {
        wg = execFileSync('wg', ['pubkey'], { input: Buffer.from(first.privateKey).toString('base64') })
          .toString()
          .trim();
      } catch {
        // wireguard-tools missing: the format check above still holds
      }
      if (wg !== undefined) expect(first.publicKey).toBe(wg);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
