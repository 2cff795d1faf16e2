import {
  ICMPV4_ERROR_MAX,
  ICMPV6_ERROR_MAX,
  ICMP_HEADER_LENGTH,
  IPV4_HEADER_LENGTH,
  IPV6_HEADER_LENGTH,
  Icmpv4Type,
  Icmpv6Type,
  IpProtocol,
  internetChecksum,
  read16,
  write16,
  write32,
  writeIpv4Header,
  writeIpv6Header,
  type Packet,
} from '../packet/index.js';
import { finishTransportChecksum } from '../packet/build.js';

/**
 * Stateless IP/ICMP translation (RFC 7915, SIIT) for the gateway's NAT64/NAT46: a client that got an IPv4 mapped IP
 * for an IPv6-only name (or the reverse) sends one family and the server speaks the other (seed 001). The NAT table
 * decides the addresses; this only re-encodes a packet in the other family:
 *
 * - IP header: TOS ⇄ traffic class, TTL ⇄ hop limit, protocol ⇄ next header (ICMP ⇄ ICMPv6); IPv4 options and IPv6
 *   extension headers are not carried over. IPv6→IPv4 sets DF when the result exceeds 1260 bytes and otherwise
 *   leaves it clear with a fresh identification, as RFC 7915 5.1 says (so IPv6 hosts that never see a "packet too
 *   big" below 1280 still get through).
 * - TCP/UDP: payload unchanged; the checksum recomputed over the new pseudo-header (a zero UDP/IPv4 checksum becomes
 *   a real one, as IPv6 requires).
 * - ICMP echo ⇄ ICMPv6 echo (types 8/0 ⇄ 128/129); other informational messages are dropped (RFC 7915 4.2, 5.2).
 * - ICMP errors: type/code mapped per RFC 7915 4.2/5.2 (MTU adjusted by the 20-byte header difference), and the
 *   packet they carry translated as well, into `inner` addresses. The carried packet's own transport checksum is
 *   left as it was (RFC 7915 allows it; receivers match errors to sockets by addresses and ports, not by it).
 *   Parameter problems are dropped rather than translating the pointer.
 *
 * Fragments never get here: the gateway drops them before translation (and counts them).
 */

export interface Addresses {
  src: Uint8Array;
  dst: Uint8Array;
}

/** Translates an IPv4 packet to IPv6 with `outer` addresses; undefined when RFC 7915 says to drop it. */
export function translateToIpv6(p: Packet, outer: Addresses, inner?: Addresses): Uint8Array | undefined {
  const protocol = p.protocol;
  if (protocol === IpProtocol.Tcp || protocol === IpProtocol.Udp) {
    return finish(withIpv6Header(p, outer, protocol, transportBytes(p)), protocol);
  }
  if (protocol !== IpProtocol.Icmp) return undefined;
  const type = p.icmpType;
  if (type === Icmpv4Type.EchoRequest || type === Icmpv4Type.EchoReply) {
    const out = withIpv6Header(p, outer, IpProtocol.Icmpv6, transportBytes(p));
    out[IPV6_HEADER_LENGTH] = type === Icmpv4Type.EchoRequest ? Icmpv6Type.EchoRequest : Icmpv6Type.EchoReply;
    return finish(out, IpProtocol.Icmpv6);
  }
  const body = errorBody(p, icmp4ErrorTo6(type, p.icmpCode, p.icmpMtu), inner, ICMPV6_ERROR_MAX - IPV6_HEADER_LENGTH);
  return body && finish(withIpv6Header(p, outer, IpProtocol.Icmpv6, body), IpProtocol.Icmpv6);
}

/** Translates an IPv6 packet to IPv4 with `outer` addresses; undefined when RFC 7915 says to drop it. */
export function translateToIpv4(p: Packet, outer: Addresses, ipId: number, inner?: Addresses): Uint8Array | undefined {
  const protocol = p.protocol;
  if (protocol === IpProtocol.Tcp || protocol === IpProtocol.Udp) {
    return finish(withIpv4Header(p, outer, protocol, transportBytes(p), ipId), protocol);
  }
  if (protocol !== IpProtocol.Icmpv6) return undefined;
  const type = p.icmpType;
  if (type === Icmpv6Type.EchoRequest || type === Icmpv6Type.EchoReply) {
    const out = withIpv4Header(p, outer, IpProtocol.Icmp, transportBytes(p), ipId);
    out[IPV4_HEADER_LENGTH] = type === Icmpv6Type.EchoRequest ? Icmpv4Type.EchoRequest : Icmpv4Type.EchoReply;
    return finish(out, IpProtocol.Icmp);
  }
  const body = errorBody(p, icmp6ErrorTo4(type, p.icmpCode, p.icmpMtu), inner, ICMPV4_ERROR_MAX - IPV4_HEADER_LENGTH);
  return body && finish(withIpv4Header(p, outer, IpProtocol.Icmp, body, ipId), IpProtocol.Icmp);
}

/** The ICMP part of a translated error: mapped type/code/rest, then the carried packet translated (within `max`). */
function errorBody(
  p: Packet,
  mapped: MappedError | undefined,
  inner: Addresses | undefined,
  max: number,
): Uint8Array | undefined {
  if (!mapped || !inner) return undefined;
  const original = p.embedded();
  if (typeof original === 'string') return undefined;
  const carried = translateCarried(original, inner, max - ICMP_HEADER_LENGTH);
  if (!carried) return undefined;
  const body = new Uint8Array(ICMP_HEADER_LENGTH + carried.length);
  body[0] = mapped.type;
  body[1] = mapped.code;
  write32(body, 4, mapped.rest);
  body.set(carried, ICMP_HEADER_LENGTH);
  return body;
}

interface MappedError {
  type: number;
  code: number;
  /** The 32 bits after the checksum (unused, MTU or pointer). */
  rest: number;
}

/** RFC 7915 4.2: ICMPv4 error → ICMPv6 error. */
function icmp4ErrorTo6(type: number, code: number, mtu: number): MappedError | undefined {
  if (type === Icmpv4Type.TimeExceeded) return { type: Icmpv6Type.TimeExceeded, code, rest: 0 };
  if (type !== Icmpv4Type.DestinationUnreachable) return undefined;
  const unreachable = (c: number) => ({ type: Icmpv6Type.DestinationUnreachable, code: c, rest: 0 });
  switch (code) {
    case 0: // net unreachable
    case 1: // host unreachable
    case 5: // source route failed
    case 6:
    case 7:
    case 8:
    case 11:
    case 12:
      return unreachable(0);
    case 2: // protocol unreachable → parameter problem, pointer to next header
      return { type: Icmpv6Type.ParameterProblem, code: 1, rest: 6 };
    case 3:
      return unreachable(4);
    case 4: // fragmentation needed → packet too big; IPv6 headers are 20 bytes longer
      return { type: Icmpv6Type.PacketTooBig, code: 0, rest: Math.max(1280, (mtu || 1280) + 20) };
    case 9:
    case 10:
    case 13:
    case 15:
      return unreachable(1);
    default:
      return undefined;
  }
}

/** RFC 7915 5.2: ICMPv6 error → ICMPv4 error. */
function icmp6ErrorTo4(type: number, code: number, mtu: number): MappedError | undefined {
  const unreachable = (c: number) => ({ type: Icmpv4Type.DestinationUnreachable, code: c, rest: 0 });
  switch (type) {
    case Icmpv6Type.DestinationUnreachable:
      if (code === 0 || code === 2 || code === 3) return unreachable(1);
      if (code === 1) return unreachable(10);
      if (code === 4) return unreachable(3);
      return undefined;
    case Icmpv6Type.PacketTooBig:
      // ICMPv4 carries the MTU in the low 16 bits (RFC 1191); the IPv4 path is 20 bytes shorter in headers.
      return { type: Icmpv4Type.DestinationUnreachable, code: 4, rest: Math.min(0xffff, Math.max(68, mtu - 20)) };
    case Icmpv6Type.TimeExceeded:
      return { type: Icmpv4Type.TimeExceeded, code, rest: 0 };
    case Icmpv6Type.ParameterProblem:
      return code === 1 ? unreachable(2) : undefined;
    default:
      return undefined;
  }
}

/** The packet inside an ICMP error, re-encoded in the other family (header + whatever of it was carried). */
function translateCarried(original: Packet, addrs: Addresses, max: number): Uint8Array | undefined {
  const toV6 = original.version === 4;
  if (addrs.src.length !== (toV6 ? 16 : 4)) return undefined;
  let protocol = original.protocol;
  // A copy (the echo type is rewritten below); Buffer#slice would be a view into the packet.
  const transport = Uint8Array.from(original.buffer.subarray(original.transportOffset, original.end));
  if (protocol === IpProtocol.Icmp || protocol === IpProtocol.Icmpv6) {
    protocol = toV6 ? IpProtocol.Icmpv6 : IpProtocol.Icmp;
    const echo = toV6 ? Icmpv4Type.EchoRequest : Icmpv6Type.EchoRequest;
    const reply = toV6 ? Icmpv4Type.EchoReply : Icmpv6Type.EchoReply;
    if (transport[0] === echo) transport[0] = toV6 ? Icmpv6Type.EchoRequest : Icmpv4Type.EchoRequest;
    else if (transport[0] === reply) transport[0] = toV6 ? Icmpv6Type.EchoReply : Icmpv4Type.EchoReply;
    else return undefined;
  }
  // Length fields describe the original as it was sent, not the part carried here.
  const originalTransportLength = toV6
    ? read16(original.buffer, original.ipOffset + 2) - (original.transportOffset - original.ipOffset)
    : read16(original.buffer, original.ipOffset + 4) - (original.transportOffset - original.ipOffset - 40);
  const header = toV6 ? IPV6_HEADER_LENGTH : IPV4_HEADER_LENGTH;
  const out = new Uint8Array(Math.min(header + transport.length, max));
  const ttl = original.ttl;
  if (toV6) {
    writeIpv6Header(out, 0, addrs.src, addrs.dst, protocol, Math.max(0, originalTransportLength), ttl);
  } else {
    writeIpv4Header(out, 0, addrs.src, addrs.dst, protocol, header + Math.max(0, originalTransportLength), ttl, 0);
  }
  out.set(transport.subarray(0, out.length - header), header);
  return out;
}

function transportBytes(p: Packet): Uint8Array {
  return p.buffer.subarray(p.transportOffset, p.end);
}

function trafficClass(p: Packet): number {
  const buf = p.buffer;
  return p.version === 4 ? buf[p.ipOffset + 1]! : ((buf[p.ipOffset]! & 0x0f) << 4) | (buf[p.ipOffset + 1]! >> 4);
}

function withIpv6Header(p: Packet, addrs: Addresses, protocol: number, transport: Uint8Array): Uint8Array {
  const out = new Uint8Array(IPV6_HEADER_LENGTH + transport.length);
  writeIpv6Header(out, 0, addrs.src, addrs.dst, protocol, transport.length, p.ttl);
  const tc = trafficClass(p);
  out[0] = 0x60 | (tc >> 4);
  out[1] = (tc & 0x0f) << 4;
  out.set(transport, IPV6_HEADER_LENGTH);
  return out;
}

function withIpv4Header(
  p: Packet,
  addrs: Addresses,
  protocol: number,
  transport: Uint8Array,
  ipId: number,
): Uint8Array {
  const out = new Uint8Array(IPV4_HEADER_LENGTH + transport.length);
  writeIpv4Header(out, 0, addrs.src, addrs.dst, protocol, out.length, p.ttl, ipId & 0xffff);
  out[1] = trafficClass(p);
  if (out.length > 1260) out[6] = 0x40; // DF
  write16(out, 10, 0);
  write16(out, 10, internetChecksum(out, 0, IPV4_HEADER_LENGTH));
  out.set(transport, IPV4_HEADER_LENGTH);
  return out;
}

/** Recomputes the transport checksum of a translated packet (its bytes were copied with the old one in place). */
function finish(out: Uint8Array, protocol: number): Uint8Array {
  const v4 = out[0]! >> 4 === 4;
  const start = v4 ? IPV4_HEADER_LENGTH : IPV6_HEADER_LENGTH;
  const at = start + (protocol === IpProtocol.Tcp ? 16 : protocol === IpProtocol.Udp ? 6 : 2);
  write16(out, at, 0);
  finishTransportChecksum(out, protocol, at);
  return out;
}
