import { createHash, randomFillSync } from 'node:crypto';

/**
 * The source of randomness a `Device` uses for ephemeral keys, session indices, cookie secrets and timer jitter.
 * Injected so that tests are deterministic; drivers pass `systemRng()`.
 */
export interface Rng {
  /** Fills `target` with random bytes. */
  fill(target: Uint8Array): void;
}

/** Randomness from the operating system's CSPRNG, for drivers. */
export function systemRng(): Rng {
  return { fill: (target) => void randomFillSync(target) };
}

/**
 * A deterministic stream for tests: BLAKE2s(seed ‖ block counter) in counter mode. Never use it for real keys.
 */
export function seededRng(seed: string): Rng {
  let block = 0;
  let pool = new Uint8Array(0);
  let used = 0;
  return {
    fill(target) {
      for (let i = 0; i < target.length; i++) {
        if (used === pool.length) {
          pool = createHash('blake2s256').update(`${seed}/${block++}`).digest();
          used = 0;
        }
        target[i] = pool[used++]!;
      }
    },
  };
}

/** A uniformly random integer in [0, bound) for bound ≤ 2^32 (modulo bias is irrelevant for timer jitter). */
export function randomInt(rng: Rng, bound: number, scratch: Uint8Array = new Uint8Array(4)): number {
  rng.fill(scratch);
  const value = (scratch[0]! | (scratch[1]! << 8) | (scratch[2]! << 16) | (scratch[3]! << 24)) >>> 0;
  return value % bound;
}
