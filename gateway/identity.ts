import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generatePrivateKey, parseKey, systemRng } from '../tunnel/wireguard/index.js';

/**
 * The gateway's WireGuard private key. With a key file the gateway keeps its identity across restarts, so the
 * authorizations the portal re-sends after a reconnect still match what clients were told; the file is created
 * (mode 0600, `wg genkey` format) on first start. Without one the key lives only as long as the process.
 */
export function loadOrCreatePrivateKey(keyFile: string | undefined): string {
  if (keyFile === undefined) return generatePrivateKey(systemRng());
  let text: string;
  try {
    text = readFileSync(keyFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const key = generatePrivateKey(systemRng());
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
    // `wx`: never overwrite a key another process wrote meanwhile.
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  }
  const parsed = parseKey(text.trim());
  if (!parsed.ok) throw new Error(`${keyFile}: ${parsed.error}`);
  return text.trim();
}
