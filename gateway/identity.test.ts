import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseKey } from '../tunnel/wireguard/index.js';
import { loadOrCreatePrivateKey } from './identity.js';

describe('loadOrCreatePrivateKey', () => {
  const made: string[] = [];
  const dir = () => {
    const path = mkdtempSync(join(tmpdir(), 'postern-gw-key-'));
    made.push(path);
    return path;
  };
  afterEach(() => {
    for (const path of made.splice(0)) rmSync(path, { recursive: true, force: true });
  });

  it('creates a 0600 key file on first start and returns the same key afterwards', () => {
    const file = join(dir(), 'sub', 'private.key');
    const first = loadOrCreatePrivateKey(file);
    expect(parseKey(first).ok).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`${first}\n`);
    expect(loadOrCreatePrivateKey(file)).toBe(first);
  });

  it('names the file when it does not hold a key', () => {
    const file = join(dir(), 'private.key');
    writeFileSync(file, 'not a key\n');
    expect(() => loadOrCreatePrivateKey(file)).toThrow(`${file}: a key is 32 bytes`);
  });

  it('makes a fresh key per call without a file', () => {
    expect(loadOrCreatePrivateKey(undefined)).not.toBe(loadOrCreatePrivateKey(undefined));
  });
});
