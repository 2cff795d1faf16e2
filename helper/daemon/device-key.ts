import { generateKeyPairSync, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../os/atomic-file.js';

/** The device's WireGuard (X25519) key pair, raw 32 bytes each. */
export interface DeviceKey {
  privateKey: Uint8Array;
  /** Base64, as the portal and `wg` spell it. */
  publicKey: string;
}

/**
 * The device key is generated once and kept (mode 0600) in the state directory, so the portal sees the same device
 * across restarts and tunnel addresses stay stable.
 */
export function loadOrCreateDeviceKey(stateDir: string): DeviceKey {
  const path = join(stateDir, 'device.key');
  let privateKey: Uint8Array;
  try {
    privateKey = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (privateKey.length !== 32) throw new Error('not a 32-byte key');
  } catch {
    const { privateKey: key } = generateKeyPairSync('x25519');
    privateKey = Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(path, `${Buffer.from(privateKey).toString('base64')}\n`, 0o600);
  }
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/** PKCS#8 wrapping of a raw X25519 private key (RFC 8410): a fixed 16-byte header, then the 32 key bytes. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export function publicKeyOf(privateKey: Uint8Array): string {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
  return Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url').toString('base64');
}
