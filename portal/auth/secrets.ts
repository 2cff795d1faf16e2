import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** An opaque bearer secret: a recognisable prefix and 256 random bits. Only its hash is stored. */
export function newSecret(prefix: 'pct' | 'pgt' | 'pcode'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** SHA-256 is enough at rest for 256-bit random secrets (no dictionary to attack, unlike passwords). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of two secrets of any length (compares their hashes). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** RFC 7636 S256: base64url(SHA-256(verifier)) must equal the challenge sent at sign-in. */
export function pkceMatches(verifier: string, challenge: string): boolean {
  return secretsEqual(createHash('sha256').update(verifier).digest('base64url'), challenge);
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };

/** `scrypt$N$r$p$salt$hash` (base64url), self-describing so the cost can rise later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, SCRYPT.keylen, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Hashed once so that checking an unknown account costs as much as a known one (no timing oracle). */
const DUMMY_HASH = hashPassword('not a password of anyone');

/** False for a wrong password, a malformed stored hash, or no stored hash at all (`stored` undefined). */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const parts = (stored ?? (await DUMMY_HASH)).split('$');
  const [scheme, n, r, p, salt, hash] = parts;
  if (parts.length !== 6 || scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return timingSafeEqual(actual, expected) && stored !== undefined && stored !== null;
}
