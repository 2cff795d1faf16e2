import { write16 } from './bytes.js';

/** Length of the fixed IPv6 header (the builders write no extension headers). */
export const IPV6_HEADER_LENGTH = 40;

/**
 * Writes a 40-byte IPv6 header (traffic class and flow label 0) at `out[offset]`. `payloadLength` counts what follows
 * the header.
 */
export function writeIpv6Header(
  out: Uint8Array,
  offset: number,
  src: Uint8Array,
  dst: Uint8Array,
  nextHeader: number,
  payloadLength: number,
  hopLimit: number,
): void {
  out[offset] = 0x60;
  out[offset + 1] = 0;
  out[offset + 2] = 0;
  out[offset + 3] = 0;
  write16(out, offset + 4, payloadLength);
  out[offset + 6] = nextHeader;
  out[offset + 7] = hopLimit;
  out.set(src.subarray(0, 16), offset + 8);
  out.set(dst.subarray(0, 16), offset + 24);
}
