/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Sums here are one's complement sums of big-endian 16-bit words, kept folded to 16 bits. A checksum field holds the
 * complement of the sum of the words it covers (with the field itself taken as zero).
 *
 * Incremental update, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Callers collect `~m + m'` for every changed word with
 * `wordDelta` (adding several deltas is fine) and apply them with `adjustChecksum`. The result equals a full
 * recomputation bit for bit (so never 0xffff), which the tests check; the one exception is data that became all zero,
 * where a full computation gives 0xffff and the update 0 (the same value in one's complement; no header is all zero).
 */

/** Folds a sum of 16-bit words (any non-negative safe integer) to 16 bits with end-around carry. */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** One's complement sum of `buf[start, end)` as big-endian words (an odd last byte is padded with zero), plus `initial`. */
export function sum16(buf: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  // Fold every 16 Ki words so the running sum stays a small integer.
  while (end - i >= 2) {
    const stop = Math.min(end - ((end - i) & 1), i + 0x8000);
    for (; i < stop; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
    sum = fold(sum);
  }
  if (i < end) sum += buf[i]! << 8;
  return fold(sum);
}

/** The checksum field value for a folded sum. */
export function checksumOf(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** The Internet checksum of `buf[start, end)`. */
export function internetChecksum(buf: Uint8Array, start: number, end: number): number {
  return checksumOf(sum16(buf, start, end));
}

/**
 * Sum of the TCP/UDP/ICMPv6 pseudo-header: the source and destination addresses (which are adjacent in both IPv4 and
 * IPv6 headers, source first, each `addressLength` bytes from `srcOffset`), the protocol and the upper-layer length.
 */
export function pseudoHeaderSum(
  buf: Uint8Array,
  srcOffset: number,
  addressLength: 4 | 16,
  protocol: number,
  upperLength: number,
): number {
  return sum16(buf, srcOffset, srcOffset + 2 * addressLength, protocol + (upperLength >>> 16) + (upperLength & 0xffff));
}

/** `~old + new` for one 16-bit word: add these up over every changed word, then `adjustChecksum`. */
export function wordDelta(oldWord: number, newWord: number): number {
  return (~oldWord & 0xffff) + newWord;
}

/** The checksum field value after the covered words changed by `delta` (a sum of `wordDelta`s). RFC 1624 eqn. 3. */
export function adjustChecksum(checksum: number, delta: number): number {
  return ~fold((~checksum & 0xffff) + delta) & 0xffff;
}
