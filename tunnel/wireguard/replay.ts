/**
 * The sliding replay window of received message counters (whitepaper §5.4.6, the bitmap scheme of RFC 6479). It
 * remembers the last REPLAY_WINDOW counters below the highest one seen, so packets reordered by up to that many
 * still get through once, and anything older or repeated is refused.
 *
 * Counters are 64-bit and arrive as two 32-bit halves (`hi`, `lo`); every comparison below is exact for the whole
 * range, without BigInt on the hot path.
 */
const BLOCK_BITS = 32;
const RING_BLOCKS = 256; // a power of two
const RING_MASK = RING_BLOCKS - 1;
/** How far behind the highest counter a packet may be and still be accepted (8160, above wireguard-go's 8128). */
export const REPLAY_WINDOW = (RING_BLOCKS - 1) * BLOCK_BITS;

export class ReplayWindow {
  private readonly ring = new Uint32Array(RING_BLOCKS);
  private lastHi = 0;
  private lastLo = 0;

  /** Records the counter and says whether it is new (true) or a replay / too old (false). */
  accept(hi: number, lo: number): boolean {
    const lastHi = this.lastHi;
    const lastLo = this.lastLo;
    if (hi > lastHi || (hi === lastHi && lo > lastLo)) {
      this.clearBlocksUpTo(blocksBetween(lastHi, lastLo, hi, lo), lastLo);
      this.lastHi = hi;
      this.lastLo = lo;
    } else if (distance(lastHi, lastLo, hi, lo) > REPLAY_WINDOW) {
      return false;
    }
    const index = (lo >>> 5) & RING_MASK;
    const bit = 1 << (lo & 31);
    const block = this.ring[index]!;
    if (block & bit) return false;
    this.ring[index] = block | bit;
    return true;
  }

  /** Zeroes the ring blocks between the last counter's block (exclusive) and `ahead` blocks after it. */
  private clearBlocksUpTo(ahead: number, lastLo: number): void {
    const current = lastLo >>> 5;
    const count = Math.min(ahead, RING_BLOCKS);
    for (let i = 1; i <= count; i++) this.ring[(current + i) & RING_MASK] = 0;
  }
}

/** (aHi:aLo) − (bHi:bLo) for a ≥ b, exact when small; any result above 2^33 only means "far". */
function distance(aHi: number, aLo: number, bHi: number, bLo: number): number {
  const dHi = aHi - bHi;
  return dHi >= 2 ? Infinity : dHi * 2 ** 32 + aLo - bLo;
}

/** How many 32-counter blocks b lies after a (b > a); Infinity when farther than the ring. */
function blocksBetween(aHi: number, aLo: number, bHi: number, bLo: number): number {
  const dHi = bHi - aHi;
  return dHi >= 2 ? Infinity : dHi * 2 ** 27 + (bLo >>> 5) - (aLo >>> 5);
}
