import { write16, write32 } from './bytes.js';
import { finishTransportChecksum, newIpPacket, transportStart, type IpSpec } from './build.js';
import { ICMPV4_ERROR_MAX, ICMPV6_ERROR_MAX, Icmpv4Type, Icmpv6Type, IpProtocol } from './constants.js';
import { IPV4_HEADER_LENGTH } from './ipv4.js';
import { IPV6_HEADER_LENGTH } from './ipv6.js';
import type { Packet } from './packet.js';

export const ICMP_HEADER_LENGTH = 8;

/** The ICMP errors this layer builds, named once for both families (see `ERROR_TYPES` for type/code). */
export type IcmpErrorKind =
  'net-unreachable' | 'host-unreachable' | 'port-unreachable' | 'admin-prohibited' | 'packet-too-big' | 'time-exceeded';

/** [type, code] per family. "Administratively prohibited" is ICMPv4 code 13 (RFC 1812), ICMPv6 code 1. */
const ERROR_TYPES: Record<IcmpErrorKind, readonly [v4: readonly [number, number], v6: readonly [number, number]]> = {
  'net-unreachable': [
    [Icmpv4Type.DestinationUnreachable, 0],
    [Icmpv6Type.DestinationUnreachable, 0],
  ],
  'host-unreachable': [
    [Icmpv4Type.DestinationUnreachable, 1],
    [Icmpv6Type.DestinationUnreachable, 3],
  ],
  'port-unreachable': [
    [Icmpv4Type.DestinationUnreachable, 3],
    [Icmpv6Type.DestinationUnreachable, 4],
  ],
  'admin-prohibited': [
    [Icmpv4Type.DestinationUnreachable, 13],
    [Icmpv6Type.DestinationUnreachable, 1],
  ],
  'packet-too-big': [
    [Icmpv4Type.DestinationUnreachable, 4],
    [Icmpv6Type.PacketTooBig, 0],
  ],
  'time-exceeded': [
    [Icmpv4Type.TimeExceeded, 0],
    [Icmpv6Type.TimeExceeded, 0],
  ],
};

export interface IcmpErrorSpec {
  /** The address the error comes from (e.g. the mapped IP or the gateway); the error goes to the offender's source. */
  src: Uint8Array;
  kind: IcmpErrorKind;
  /** Required for `packet-too-big`: the MTU to report. */
  mtu?: number;
  ttl?: number;
}

/** Why no ICMP error may be sent about a packet (RFC 1812 4.3.2.7, RFC 4443 2.4 e). */
export type IcmpErrorRefusal =
  /** Never an error about an error (loops). */
  | 'offending-is-icmp-error'
  /** Only the first fragment says which flow it belongs to. */
  | 'offending-is-later-fragment'
  /** To or from a multicast/broadcast/unspecified address: the error would go to many or to no one. */
  | 'offending-not-unicast';

export interface IcmpEchoSpec extends IpSpec {
  /** Echo reply when true, echo request otherwise. */
  reply?: boolean;
  id: number;
  seq: number;
  payload?: Uint8Array;
}

/** An ICMP/ICMPv6 echo request or reply, checksums computed. */
export function buildIcmpEcho(spec: IcmpEchoSpec): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  const v4 = spec.src.length === 4;
  const protocol = v4 ? IpProtocol.Icmp : IpProtocol.Icmpv6;
  const out = newIpPacket(spec, protocol, ICMP_HEADER_LENGTH + payload.length);
  const at = transportStart(out);
  if (v4) out[at] = spec.reply ? Icmpv4Type.EchoReply : Icmpv4Type.EchoRequest;
  else out[at] = spec.reply ? Icmpv6Type.EchoReply : Icmpv6Type.EchoRequest;
  write16(out, at + 4, spec.id);
  write16(out, at + 6, spec.seq);
  out.set(payload, at + ICMP_HEADER_LENGTH);
  finishTransportChecksum(out, protocol, at + 2);
  return out;
}

/**
 * An ICMP (for IPv4) or ICMPv6 (for IPv6) error about `offending`, sent back to its source, carrying as much of it
 * as fits in 576 (IPv4) or 1280 (IPv6) bytes. Returns why not when no error may be sent about that packet. Throws a
 * RangeError when `spec.src` is not of the offender's family or `packet-too-big` has no MTU (calling code's mistakes).
 */
export function buildIcmpError(offending: Packet, spec: IcmpErrorSpec): Uint8Array | IcmpErrorRefusal {
  const refusal = icmpErrorRefusal(offending, spec.kind);
  if (refusal) return refusal;
  const { kind, mtu } = spec;
  if (kind === 'packet-too-big' && mtu === undefined) throw new RangeError('packet-too-big needs an MTU');
  const v4 = offending.version === 4;
  const max = v4 ? ICMPV4_ERROR_MAX - IPV4_HEADER_LENGTH : ICMPV6_ERROR_MAX - IPV6_HEADER_LENGTH;
  const carried = Math.min(offending.length, max - ICMP_HEADER_LENGTH);
  const protocol = v4 ? IpProtocol.Icmp : IpProtocol.Icmpv6;
  const out = newIpPacket(
    { src: spec.src, dst: offending.srcAddress(), ttl: spec.ttl },
    protocol,
    ICMP_HEADER_LENGTH + carried,
  );
  const at = transportStart(out);
  const [type, code] = ERROR_TYPES[kind][v4 ? 0 : 1];
  out[at] = type;
  out[at + 1] = code;
  if (mtu !== undefined && kind === 'packet-too-big') {
    if (v4) write16(out, at + 6, mtu);
    else write32(out, at + 4, mtu);
  }
  out.set(offending.buffer.subarray(offending.ipOffset, offending.ipOffset + carried), at + ICMP_HEADER_LENGTH);
  finishTransportChecksum(out, protocol, at + 2);
  return out;
}

/** Why no ICMP error of `kind` may be sent about `p`, or undefined when one may. */
export function icmpErrorRefusal(p: Packet, kind: IcmpErrorKind): IcmpErrorRefusal | undefined {
  if (p.isIcmpError) return 'offending-is-icmp-error';
  if (p.fragmentOffset !== 0) return 'offending-is-later-fragment';
  const buf = p.buffer;
  const src = buf[p.srcOffset]!;
  const dst = buf[p.dstOffset]!;
  if (p.version === 4) {
    // 0.0.0.0/8 is "this host" (no one to answer); 224/4 multicast and 240/4 up to the broadcast address.
    if (src === 0 || src >= 224 || dst >= 224) return 'offending-not-unicast';
    return undefined;
  }
  // RFC 4443 2.4 e.3: "packet too big" is the one error sent about multicast packets (path MTU discovery).
  if ((src === 0xff || dst === 0xff) && !(kind === 'packet-too-big' && src !== 0xff)) return 'offending-not-unicast';
  if (isUnspecifiedV6(buf, p.srcOffset)) return 'offending-not-unicast';
  return undefined;
}

function isUnspecifiedV6(buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[at + i] !== 0) return false;
  return true;
}
