/**
 * The WireGuard primitives (whitepaper §5.4) on top of Node's OpenSSL bindings and @noble for what OpenSSL lacks
 * (keyed BLAKE2s with a 16-byte output, XChaCha20-Poly1305). Nothing here is a hand-written primitive.
 */
import { blake2s } from '@noble/hashes/blake2.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { KEY_LENGTH, TAG_SIZE } from './constants.js';

const ZERO_NONCE = new Uint8Array(12);

/** HASH(a ‖ b ‖ …) = BLAKE2s-256. */
export function hash(...parts: Uint8Array[]): Buffer {
  const h = createHash('blake2s256');
  for (const part of parts) h.update(part);
  return h.digest();
}

/** HMAC-BLAKE2s-256 (block size 64), as the KDF uses it. */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('blake2s256', key);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** MAC(key, input) = keyed BLAKE2s with a 16-byte output (MAC1, MAC2, cookies). */
export function mac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2s(input, { key, dkLen: 16 });
}

/** KDF_n(key, input) of the whitepaper: HKDF with HMAC-BLAKE2s, returning n 32-byte outputs. */
export function kdf(n: 1, key: Uint8Array, input: Uint8Array): [Buffer];
export function kdf(n: 2, key: Uint8Array, input: Uint8Array): [Buffer, Buffer];
export function kdf(n: 3, key: Uint8Array, input: Uint8Array): [Buffer, Buffer, Buffer];
export function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Buffer[] {
  const prk = hmac(key, input);
  const out: Buffer[] = [];
  let previous: Uint8Array = new Uint8Array(0);
  for (let i = 1; i <= n; i++) {
    previous = hmac(prk, previous, Uint8Array.of(i));
    out.push(previous as Buffer);
  }
  prk.fill(0);
  return out;
}

/** AEAD(key, 0, plaintext, ad): ChaCha20-Poly1305 with a zero nonce, as every handshake field uses it. */
export function seal(key: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: TAG_SIZE });
  cipher.setAAD(ad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([body, cipher.getAuthTag()]);
}

/** The inverse of `seal`; undefined when authentication fails. */
export function open(key: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Buffer | undefined {
  if (sealed.length < TAG_SIZE) return undefined;
  const bodyLength = sealed.length - TAG_SIZE;
  const decipher = createDecipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: TAG_SIZE });
  decipher.setAAD(ad, { plaintextLength: bodyLength });
  decipher.setAuthTag(sealed.subarray(bodyLength));
  const body = decipher.update(sealed.subarray(0, bodyLength));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return body;
}

/** XAEAD(key, nonce, plaintext, ad): XChaCha20-Poly1305, used only for cookie replies. */
export function xseal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

export function xopen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(sealed);
  } catch {
    return undefined;
  }
}

/** Constant-time equality of two byte strings of the same length. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * An X25519 private key as OpenSSL wants it. Node imports raw X25519 keys only through JWK or DER; JWK is ~7× faster
 * than DER here (that matters for the ephemeral key of every handshake). Node's JWK validator requires the public
 * `x` member but builds the key from `d` alone, so a placeholder is passed; the RFC 7748 vectors in the tests pin
 * this behaviour.
 */
export function x25519PrivateKey(raw: Uint8Array): KeyObject {
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(raw).toString('base64url'), x: PLACEHOLDER_X },
    format: 'jwk',
  });
}
const PLACEHOLDER_X = Buffer.alloc(KEY_LENGTH).toString('base64url');

export function x25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** The raw 32-byte public key of a private key. */
export function publicKeyBytes(privateKey: KeyObject): Buffer {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url');
}

/**
 * DH(private, public). Undefined when the result is all zeros (a low-order public key), which OpenSSL refuses and
 * WireGuard must reject anyway.
 */
export function dh(privateKey: KeyObject, publicKey: KeyObject): Buffer | undefined {
  try {
    return diffieHellman({ privateKey, publicKey });
  } catch {
    return undefined;
  }
}
