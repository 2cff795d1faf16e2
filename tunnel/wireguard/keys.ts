/**
 * Keys in the form `wg` prints and reads: 32 bytes in standard base64 with padding (44 characters). Private keys are
 * clamped X25519 scalars (`wg genkey`), public keys are derived as `wg pubkey` does.
 */
import { KEY_LENGTH } from './constants.js';
import { publicKeyBytes, x25519PrivateKey } from './crypto.js';
import type { Rng } from './rng.js';

export type KeyParseResult = { ok: true; key: Uint8Array } | { ok: false; error: string };

const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** Parses a base64 key; a typed error for anything that is not exactly 32 bytes in canonical base64. */
export function parseKey(text: string): KeyParseResult {
  if (!BASE64_KEY.test(text)) return { ok: false, error: 'a key is 32 bytes in base64 (44 characters ending in =)' };
  return { ok: true, key: new Uint8Array(Buffer.from(text, 'base64')) };
}

export function encodeKey(key: Uint8Array): string {
  if (key.length !== KEY_LENGTH) throw new RangeError(`a key is ${KEY_LENGTH} bytes, not ${key.length}`);
  return Buffer.from(key).toString('base64');
}

/** A new private key like `wg genkey`: random, clamped for X25519. */
export function generatePrivateKey(rng: Rng): string {
  const key = new Uint8Array(KEY_LENGTH);
  rng.fill(key);
  key[0]! &= 248;
  key[31]! &= 127;
  key[31]! |= 64;
  return encodeKey(key);
}

/** A new preshared key like `wg genpsk`: 32 random bytes. */
export function generatePresharedKey(rng: Rng): string {
  const key = new Uint8Array(KEY_LENGTH);
  rng.fill(key);
  return encodeKey(key);
}

/** The public key of a private key, like `wg pubkey`. Throws RangeError on a malformed key. */
export function publicKeyOf(privateKey: string): string {
  return encodeKey(publicKeyBytes(x25519PrivateKey(requireKey(privateKey, 'private key'))));
}

/** Parses a key given as configuration; throws a RangeError naming `what` when it is malformed. */
export function requireKey(text: string, what: string): Uint8Array {
  const parsed = parseKey(text);
  if (!parsed.ok) throw new RangeError(`invalid ${what}: ${parsed.error}`);
  return parsed.key;
}
