/**
 * tunnel/packet — IPv4/IPv6, UDP, TCP, ICMP/ICMPv6: zero-copy parsing, in-place NAT rewrites with incremental
 * checksums, and builders for the packets the client and gateway answer with themselves.
 *
 * Reading (hot path, allocates nothing per packet):
 *   const p = new Packet();                     // one per loop, re-pointed at every packet
 *   const err = p.parse(buf, offset?, length?); // PacketError | undefined; never throws
 *   p.version (4|6), p.protocol (IpProtocol.*), p.srcV4 / p.dstV4 (numbers), p.srcKey() / p.dstKey() (AddressKey),
 *   p.srcOffset / p.dstOffset / p.addressLength, p.ttl, p.isFragment / fragmentOffset / moreFragments / fragmentId,
 *   p.hasTransportHeader, p.srcPort / p.dstPort, p.tcpFlags (TcpFlag.*) / tcpSeq / tcpAck / tcpWindow /
 *   tcpHeaderLength, p.udpLength, p.icmpType / icmpCode / icmpId / icmpSeq / icmpMtu / icmpPointer,
 *   p.isIcmpEcho, p.isIcmpError, p.payloadOffset / p.payloadLength, p.transportOffset, p.end, p.length.
 *   p.embedded(): Packet | PacketError — the original packet inside an ICMP error (a reused second view; may be
 *   `truncated`; ports, TCP seq and ICMP id are always there, `transportHeaderComplete` says whether the rest is).
 *   IPv6 extension headers (hop-by-hop, routing, destination options, fragment, AH, mobility, HIP, shim6) are
 *   skipped to the upper layer; a later fragment has no transport header (`hasTransportHeader` false).
 *
 * Rewriting in place, checksums fixed incrementally (RFC 1624), also inside ICMP errors (rewrite.ts):
 *   setSrcV4(p, addr: number), setDstV4(p, addr: number), setSrcV6(p, bytes, offset?), setDstV6(p, bytes, offset?),
 *   setSrcPort(p, port), setDstPort(p, port), setIcmpId(p, id)
 *
 * Building (allocates the returned packet; checksums computed):
 *   buildUdp({ src, dst, srcPort, dstPort, payload, ttl?, ipId? }): Uint8Array
 *   buildTcp({ src, dst, srcPort, dstPort, seq, ack, flags, window, options?, payload?, ttl?, ipId? }): Uint8Array
 *   buildIcmpEcho({ src, dst, reply?, id, seq, payload?, ttl?, ipId? }): Uint8Array
 *   buildIcmpError(offending: Packet, { src, kind, mtu?, ttl? }): Uint8Array | IcmpErrorRefusal
 *   icmpErrorRefusal(offending: Packet, kind): IcmpErrorRefusal | undefined
 *   Addresses are 4- or 16-byte Uint8Arrays; a reply swaps `p.srcAddress()` / `p.dstAddress()`.
 *
 * Checksums (checksum.ts, verify.ts): fold, sum16, checksumOf, internetChecksum, pseudoHeaderSum, wordDelta,
 *   adjustChecksum; computeIpv4HeaderChecksum(p), computeTransportChecksum(p) for full recomputation.
 *
 * Addresses (address.ts): keys for Maps — number for IPv4 (= protocol/ip's Ipv4), 8-char string for IPv6
 *   (measurements there): ipv4Key(buf, off), ipv6Key(buf, off), addressKey(bytes), keyToBytes(key);
 *   protocol/ip interop: ipToKey(IpAddress), keyToIp(key); text (off the hot path, via protocol/ip):
 *   keyToString(key), addressToString(buf, off?, len?), parseAddress(text).
 */
export {
  addressKey,
  addressToString,
  ipToKey,
  ipv4Key,
  ipv6Key,
  keyToBytes,
  keyToIp,
  keyToString,
  parseAddress,
} from './address.js';
export type { AddressKey } from './address.js';
export { read16, read32, write16, write32 } from './bytes.js';
export type { IpSpec } from './build.js';
export { adjustChecksum, checksumOf, fold, internetChecksum, pseudoHeaderSum, sum16, wordDelta } from './checksum.js';
export { ICMPV4_ERROR_MAX, ICMPV6_ERROR_MAX, Icmpv4Type, Icmpv6Type, IpProtocol, TcpFlag } from './constants.js';
export { ICMP_HEADER_LENGTH, buildIcmpEcho, buildIcmpError, icmpErrorRefusal } from './icmp.js';
export type { IcmpEchoSpec, IcmpErrorKind, IcmpErrorRefusal, IcmpErrorSpec } from './icmp.js';
export { IPV4_HEADER_LENGTH, writeIpv4Header } from './ipv4.js';
export { IPV6_HEADER_LENGTH, writeIpv6Header } from './ipv6.js';
export { Packet } from './packet.js';
export type { PacketError } from './packet.js';
export { setDstPort, setDstV4, setDstV6, setIcmpId, setSrcPort, setSrcV4, setSrcV6 } from './rewrite.js';
export { TCP_HEADER_LENGTH, buildTcp } from './tcp.js';
export type { TcpSpec } from './tcp.js';
export { UDP_HEADER_LENGTH, buildUdp } from './udp.js';
export type { UdpSpec } from './udp.js';
export { computeIpv4HeaderChecksum, computeTransportChecksum } from './verify.js';
