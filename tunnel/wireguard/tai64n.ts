/**
 * TAI64N timestamps (whitepaper §5.4.2): 8 bytes big-endian seconds since 1970 plus 2^62 + 10, then 4 bytes
 * big-endian nanoseconds. Derived from `now` (ms on the epoch-aligned monotonic clock). Like the reference
 * implementations, the nanoseconds are rounded down to a multiple of 2^24 (~16.8 ms) so the timestamp does not
 * leak a precise clock reading to an observer who later learns the keys.
 */
export const TIMESTAMP_SIZE = 12;
const TAI64_BASE_HI = 0x40000000;
const TAI64_BASE_LO = 10;
const WHITENER = 0xffffff;

export function tai64n(now: number): Uint8Array {
  const out = new Uint8Array(TIMESTAMP_SIZE);
  const view = new DataView(out.buffer);
  const seconds = Math.floor(now / 1000);
  const nanos = Math.floor((now - seconds * 1000) * 1e6);
  const lo = seconds % 2 ** 32;
  const hi = Math.floor(seconds / 2 ** 32);
  // lo + 10 may carry into the high word.
  const sumLo = lo + TAI64_BASE_LO;
  view.setUint32(0, TAI64_BASE_HI + hi + (sumLo >= 2 ** 32 ? 1 : 0));
  view.setUint32(4, sumLo % 2 ** 32);
  view.setUint32(8, (nanos & ~WHITENER) >>> 0);
  return out;
}

/** Whether timestamp `a` is strictly later than `b` (both TAI64N, compared as big-endian numbers). */
export function isAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < TIMESTAMP_SIZE; i++) {
    if (a[i] !== b[i]) return a[i]! > b[i]!;
  }
  return false;
}

/** The Unix time in milliseconds of a TAI64N timestamp (for logs and tests). */
export function tai64nToUnixMs(stamp: Uint8Array): number {
  const view = new DataView(stamp.buffer, stamp.byteOffset, TIMESTAMP_SIZE);
  const seconds = (view.getUint32(0) - TAI64_BASE_HI) * 2 ** 32 + view.getUint32(4) - TAI64_BASE_LO;
  return seconds * 1000 + view.getUint32(8) / 1e6;
}
