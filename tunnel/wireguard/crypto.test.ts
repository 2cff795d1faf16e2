import { describe, expect, it } from 'vitest';
import {
  dh,
  hash,
  kdf,
  mac,
  open,
  publicKeyBytes,
  seal,
  x25519PrivateKey,
  x25519PublicKey,
  xopen,
  xseal,
} from './crypto.js';
import { INITIAL_CHAINING_KEY, INITIAL_HASH } from './handshake.js';
import { encodeKey, generatePresharedKey, generatePrivateKey, parseKey, publicKeyOf } from './keys.js';
import { seededRng } from './rng.js';
import { isAfter, tai64n, tai64nToUnixMs } from './tai64n.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

describe('Noise construction constants', () => {
  it('derives the initial chaining key and hash that WireGuard implementations hard-code', () => {
    // The values boringtun, wireguard-go and the Linux module precompute from CONSTRUCTION and IDENTIFIER.
    expect(hex(INITIAL_CHAINING_KEY)).toBe('60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
    expect(hex(INITIAL_HASH)).toBe('2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3');
  });
});

describe('primitives', () => {
  it('HASH is BLAKE2s-256 (RFC 7693 appendix B)', () => {
    expect(hex(hash(new TextEncoder().encode('abc')))).toBe(
      '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982',
    );
  });

  it('X25519 matches RFC 7748 §6.1', () => {
    const alice = x25519PrivateKey(fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const bob = x25519PrivateKey(fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    expect(hex(publicKeyBytes(alice))).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(hex(publicKeyBytes(bob))).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(hex(dh(alice, x25519PublicKey(publicKeyBytes(bob)))!)).toBe(shared);
    expect(hex(dh(bob, x25519PublicKey(publicKeyBytes(alice)))!)).toBe(shared);
  });

  it('refuses a DH with a low-order point instead of returning zeros', () => {
    const key = x25519PrivateKey(fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    expect(dh(key, x25519PublicKey(new Uint8Array(32)))).toBeUndefined();
  });

  it('KDF outputs chain as HKDF (T1 = HMAC(prk, 0x01), T2 = HMAC(prk, T1 ‖ 0x02))', () => {
    const [t1, t2, t3] = kdf(3, new Uint8Array(32), new Uint8Array([1, 2, 3]));
    const [u1, u2] = kdf(2, new Uint8Array(32), new Uint8Array([1, 2, 3]));
    expect(hex(t1)).toBe(hex(u1));
    expect(hex(t2)).toBe(hex(u2));
    expect(new Set([hex(t1), hex(t2), hex(t3)]).size).toBe(3);
  });

  it('AEAD and XAEAD round-trip and refuse tampering', () => {
    const key = new Uint8Array(32).fill(7);
    const ad = new Uint8Array([9]);
    const sealed = seal(key, new Uint8Array([1, 2, 3]), ad);
    expect([...open(key, sealed, ad)!]).toEqual([1, 2, 3]);
    expect(open(key, sealed, new Uint8Array([8]))).toBeUndefined();
    sealed[0]! ^= 1;
    expect(open(key, sealed, ad)).toBeUndefined();
    const nonce = new Uint8Array(24).fill(3);
    const x = xseal(key, nonce, new Uint8Array(16), ad);
    expect(xopen(key, nonce, x, ad)).toEqual(new Uint8Array(16));
    expect(xopen(key, nonce, x, new Uint8Array(0))).toBeUndefined();
    expect(mac(key, ad)).toHaveLength(16);
  });
});

describe('keys in wg form', () => {
  it('derives public keys exactly like `wg pubkey`', () => {
    // Produced with `wg genkey | tee /dev/stderr | wg pubkey` (wireguard-tools v1.0.20210914).
    expect(publicKeyOf('GAy3Gug+BzjY/th88JrPdqXrA3e5TWpWZDKZMq1OHmk=')).toBe(
      'be1GelyCrAQR+h1VyA7p4FVjnvExgjf/85CTYVwZ+hc=',
    );
    expect(publicKeyOf('AJgeDpu7lcjH7GxfKae+XiQTvj83mxA7dptkjUfA2HY=')).toBe(
      'FsbvBMyb0zgqMShK7on6n6IlTZX5AepDQCtyTnpiHAs=',
    );
  });

  it('generates clamped private keys and 32-byte preshared keys', () => {
    const rng = seededRng('keys');
    for (let i = 0; i < 20; i++) {
      const key = Buffer.from(generatePrivateKey(rng), 'base64');
      expect(key).toHaveLength(32);
      expect(key[0]! & 7).toBe(0);
      expect(key[31]! & 0xc0).toBe(0x40);
    }
    expect(Buffer.from(generatePresharedKey(rng), 'base64')).toHaveLength(32);
  });

  it('parses only canonical 44-character base64 keys, with a typed error otherwise', () => {
    const good = 'GAy3Gug+BzjY/th88JrPdqXrA3e5TWpWZDKZMq1OHmk=';
    const parsed = parseKey(good);
    expect(parsed.ok && encodeKey(parsed.key)).toBe(good);
    for (const bad of ['', 'abc', good.slice(0, 43), `${good}=`, good.replace('+', '-'), 'A'.repeat(43) + 'B=']) {
      expect(parseKey(bad).ok).toBe(false);
    }
    expect(() => publicKeyOf('nope')).toThrow(RangeError);
  });
});

describe('TAI64N', () => {
  it('encodes seconds since 1970 + 2^62 + 10 and whitened nanoseconds, big-endian', () => {
    const stamp = tai64n(1_700_000_000_123.456);
    expect(hex(stamp.subarray(0, 8))).toBe((2n ** 62n + 10n + 1_700_000_000n).toString(16).padStart(16, '0'));
    const nanos = Buffer.from(stamp).readUInt32BE(8);
    expect(nanos % 2 ** 24).toBe(0);
    expect(nanos).toBeLessThanOrEqual(123_456_000);
    expect(123_456_000 - nanos).toBeLessThan(2 ** 24);
    expect(Math.abs(tai64nToUnixMs(stamp) - 1_700_000_000_123)).toBeLessThan(17);
  });

  it('orders timestamps, whitening making those within ~16 ms equal', () => {
    expect(isAfter(tai64n(2000), tai64n(1000))).toBe(true);
    expect(isAfter(tai64n(1000), tai64n(2000))).toBe(false);
    expect(isAfter(tai64n(1000), tai64n(1000))).toBe(false);
    expect(isAfter(tai64n(1001), tai64n(1000))).toBe(false);
  });
});
