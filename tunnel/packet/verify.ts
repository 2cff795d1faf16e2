import { read16 } from './bytes.js';
import { checksumOf, pseudoHeaderSum, sum16 } from './checksum.js';
import { IpProtocol } from './constants.js';
import type { Packet } from './packet.js';

/**
 * Full checksum computation for a parsed packet: to check packets (tests, diagnostics) and to compare incremental
 * updates with. Not needed per packet on the data plane: the kernel checks what leaves the TUN, WireGuard
 * authenticates what crosses the tunnel, and rewrites keep checksums valid incrementally.
 */

/** The IPv4 header checksum the header should carry (IPv4 only). */
export function computeIpv4HeaderChecksum(p: Packet): number {
  const buf = p.buffer;
  const start = p.ipOffset;
  const end = p.transportOffset;
  // Sum the header around the checksum field (bytes 10–11), i.e. with the field taken as zero.
  return checksumOf(sum16(buf, start + 12, end, sum16(buf, start, start + 10)));
}

/**
 * The TCP, UDP, ICMP or ICMPv6 checksum the packet should carry, or undefined when it cannot be computed here: no
 * transport header, a fragment (the checksum covers the reassembled datagram), or an original cut short inside an
 * ICMP error. A UDP result of 0 is given as 0xffff, as it is sent. (A UDP/IPv4 packet carrying 0 has no checksum;
 * callers decide whether that is acceptable.)
 *
 * Pseudo-header destination: the IPv6 header's. A packet with a Routing header that still has segments left would
 * need its final destination instead; the data plane never carries those (no OS stack sends them through a TUN).
 */
export function computeTransportChecksum(p: Packet): number | undefined {
  if (!p.hasTransportHeader || p.isFragment || p.truncated || !p.transportHeaderComplete) return undefined;
  const buf = p.buffer;
  const start = p.transportOffset;
  const protocol = p.protocol;
  let end = p.end;
  if (protocol === IpProtocol.Udp) {
    // An embedded original may claim a UDP length its IP length does not hold.
    const udpLength = read16(buf, start + 4);
    if (udpLength < 8 || start + udpLength > end) return undefined;
    end = start + udpLength;
  }
  const at = p.transportChecksumOffset;
  let sum =
    protocol === IpProtocol.Icmp ? 0 : pseudoHeaderSum(buf, p.srcOffset, p.addressLength, protocol, end - start);
  sum = sum16(buf, start, at, sum);
  sum = sum16(buf, at + 2, end, sum);
  const checksum = checksumOf(sum);
  return protocol === IpProtocol.Udp && checksum === 0 ? 0xffff : checksum;
}
