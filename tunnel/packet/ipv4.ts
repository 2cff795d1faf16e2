import { write16 } from './bytes.js';
import { internetChecksum } from './checksum.js';

/** Length of an IPv4 header without options (what the builders write). */
export const IPV4_HEADER_LENGTH = 20;

/**
 * Writes a 20-byte IPv4 header (no options, DSCP/ECN 0, no fragmentation) at `out[offset]`, checksum included.
 * `totalLength` counts the header and everything after it.
 */
export function writeIpv4Header(
  out: Uint8Array,
  offset: number,
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  totalLength: number,
  ttl: number,
  id: number,
): void {
  out[offset] = 0x45;
  out[offset + 1] = 0;
  write16(out, offset + 2, totalLength);
  write16(out, offset + 4, id);
  write16(out, offset + 6, 0);
  out[offset + 8] = ttl;
  out[offset + 9] = protocol;
  write16(out, offset + 10, 0);
  out.set(src.subarray(0, 4), offset + 12);
  out.set(dst.subarray(0, 4), offset + 16);
  write16(out, offset + 10, internetChecksum(out, offset, offset + IPV4_HEADER_LENGTH));
}
