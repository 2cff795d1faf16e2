import { write16 } from './bytes.js';
import { checksumOf, pseudoHeaderSum, sum16 } from './checksum.js';
import { IpProtocol } from './constants.js';
import { IPV4_HEADER_LENGTH, writeIpv4Header } from './ipv4.js';
import { IPV6_HEADER_LENGTH, writeIpv6Header } from './ipv6.js';

/**
 * What every builder needs for the IP header. Addresses are 4 bytes (IPv4) or 16 bytes (IPv6), both of one family;
 * `Packet#srcAddress()`/`dstAddress()` give them from a packet being answered.
 */
export interface IpSpec {
  src: Uint8Array;
  dst: Uint8Array;
  /** IPv4 TTL or IPv6 hop limit; 64 when not given. */
  ttl?: number;
  /** IPv4 identification; 0 when not given (the builders' packets are never fragmented). */
  ipId?: number;
}

const MAX_IP_PAYLOAD = 0xffff - IPV4_HEADER_LENGTH;

/**
 * A new packet with its IP header written and room for `transportLength` bytes after it. Throws a RangeError for
 * addresses that are not 4 or 16 bytes of one family, or a transport part too long for one packet: those are
 * mistakes of the calling code, not bad input from the network.
 */
export function newIpPacket(spec: IpSpec, protocol: number, transportLength: number): Uint8Array {
  const { src, dst } = spec;
  if (src.length !== dst.length || (src.length !== 4 && src.length !== 16)) {
    throw new RangeError(`addresses must both be 4 or both 16 bytes (got ${src.length} and ${dst.length})`);
  }
  if (transportLength > MAX_IP_PAYLOAD) throw new RangeError(`${transportLength} bytes do not fit in one IP packet`);
  const ttl = spec.ttl ?? 64;
  if (src.length === 4) {
    const out = new Uint8Array(IPV4_HEADER_LENGTH + transportLength);
    writeIpv4Header(out, 0, src, dst, protocol, out.length, ttl, spec.ipId ?? 0);
    return out;
  }
  const out = new Uint8Array(IPV6_HEADER_LENGTH + transportLength);
  writeIpv6Header(out, 0, src, dst, protocol, transportLength, ttl);
  return out;
}

/** Where the transport header starts in a packet from `newIpPacket`. */
export function transportStart(packet: Uint8Array): number {
  return packet[0]! >> 4 === 4 ? IPV4_HEADER_LENGTH : IPV6_HEADER_LENGTH;
}

/**
 * Fills in the transport checksum at `out[checksumAt]` of a packet from `newIpPacket`, over everything from the
 * transport header to the end (plus the pseudo-header, except for ICMPv4). The field must be zero beforehand.
 */
export function finishTransportChecksum(out: Uint8Array, protocol: number, checksumAt: number): void {
  const start = transportStart(out);
  const v4 = start === IPV4_HEADER_LENGTH;
  const initial =
    protocol === IpProtocol.Icmp ? 0 : pseudoHeaderSum(out, v4 ? 12 : 8, v4 ? 4 : 16, protocol, out.length - start);
  let checksum = checksumOf(sum16(out, start, out.length, initial));
  if (protocol === IpProtocol.Udp && checksum === 0) checksum = 0xffff;
  write16(out, checksumAt, checksum);
}
