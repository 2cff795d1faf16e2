import { ipv4Key, ipv6Key, type AddressKey } from './address.js';
import { read16, read32 } from './bytes.js';
import { Icmpv4Type, Icmpv6Type, IpProtocol } from './constants.js';

/** Why bytes are not a packet this layer can read. Parsers return one of these; they never throw. */
export type PacketError =
  /** The bytes end before a header, or before the length the IP header declares. */
  | 'truncated'
  /** The first nibble is neither 4 nor 6. */
  | 'unknown-version'
  /** IPv4 header length below 20, or a total length smaller than the header. */
  | 'bad-header-length'
  /** An IPv6 extension header runs past the end of the packet. */
  | 'bad-extension-header'
  /** TCP data offset below 5 words, or past the end of the packet. */
  | 'bad-tcp-header'
  /** UDP length below 8 or past the end of the packet. */
  | 'bad-udp-length'
  /** `embedded()` on a packet that is not an ICMP error, or on a packet that is itself embedded. */
  | 'not-icmp-error';

const EMPTY = new Uint8Array(0);

/**
 * A zero-copy view of one IPv4 or IPv6 packet. `parse` points it at bytes and finds the headers; the getters then
 * read fields straight from those bytes, so a rewrite (see rewrite.ts) is seen at once. Meant to be reused: keep one
 * per loop and re-point it at each packet, so reading a packet allocates nothing.
 *
 * After `parse` returned an error the view points at no bytes: its getters mean nothing (but never read the bytes
 * that failed). Getters of one protocol (e.g. `tcpFlags`) return garbage when read on another, as reading raw bytes
 * does; check `protocol` first.
 */
export class Packet {
  private buf: Uint8Array = EMPTY;
  private ver: 4 | 6 = 4;
  private ip = 0;
  private stop = 0;
  private l4 = 0;
  private pay = 0;
  private payEnd = 0;
  private proto = 0;
  private transport = false;
  private transportComplete = false;
  private csumAt = -1;
  private fragOffset = 0;
  private fragMore = false;
  private fragIdent = 0;
  private cut = false;
  private parent: Packet | undefined = undefined;
  private child: Packet | undefined = undefined;

  /**
   * Points the view at the IP packet in `buf[offset, offset + length)`. Bytes after the length the IP header declares
   * (link-layer padding) are ignored. Returns an error, or undefined when the view is ready.
   */
  parse(buf: Uint8Array, offset = 0, length = buf.length - offset): PacketError | undefined {
    if (!(offset >= 0 && length >= 0 && offset + length <= buf.length)) return this.fail('truncated');
    return this.parseAt(buf, offset, offset + length, undefined);
  }

  /**
   * For an ICMP or ICMPv6 error, a view of the original packet it carries (a second view owned by this one, reused
   * on every call). The original is usually cut short: `truncated` says so, and only its IP header and the first 8
   * bytes of its transport header are guaranteed (ports, TCP sequence number, ICMP id/sequence);
   * `transportHeaderComplete` says whether the rest of the transport header is there.
   */
  embedded(): Packet | PacketError {
    if (!this.isIcmpError || this.parent) return 'not-icmp-error';
    const inner = (this.child ??= new Packet());
    const err = inner.parseAt(this.buf, this.pay, this.stop, this);
    return err ?? inner;
  }

  /** The bytes this view reads (the whole buffer given to `parse`, not just the packet). */
  get buffer(): Uint8Array {
    return this.buf;
  }
  get version(): 4 | 6 {
    return this.ver;
  }
  /** Where the IP header starts in `buffer`. */
  get ipOffset(): number {
    return this.ip;
  }
  /** Where the IP packet ends in `buffer` (exclusive): by the IP header's length, or the bytes present if cut short. */
  get end(): number {
    return this.stop;
  }
  /** The IP packet's length in `buffer`. */
  get length(): number {
    return this.stop - this.ip;
  }
  /** The upper-layer protocol (IPv6: after the extension headers; for a later fragment: the fragment's). */
  get protocol(): number {
    return this.proto;
  }
  /** Where the upper-layer (transport) header starts, after IPv4 options or IPv6 extension headers. */
  get transportOffset(): number {
    return this.l4;
  }
  /** Whether a TCP, UDP, ICMP or ICMPv6 header was found (false for later fragments and other protocols). */
  get hasTransportHeader(): boolean {
    return this.transport;
  }
  /** Whether the whole transport header is present (only an embedded original can have less than all of it). */
  get transportHeaderComplete(): boolean {
    return this.transportComplete;
  }
  /** Where the transport payload starts (after the TCP/UDP/ICMP header; the transport offset otherwise). */
  get payloadOffset(): number {
    return this.pay;
  }
  /** Bytes of transport payload present (UDP: by the UDP length). */
  get payloadLength(): number {
    return this.payEnd - this.pay;
  }
  /** Whether this is a fragment (IPv4 MF flag or offset; an IPv6 Fragment header with M or an offset). */
  get isFragment(): boolean {
    return this.fragMore || this.fragOffset !== 0;
  }
  /** The fragment's offset in bytes in the original datagram; only the first (0) has the transport header. */
  get fragmentOffset(): number {
    return this.fragOffset;
  }
  get moreFragments(): boolean {
    return this.fragMore;
  }
  /** IPv4 identification (16 bits) or the IPv6 Fragment header's identification (32 bits; 0 without one). */
  get fragmentId(): number {
    return this.fragIdent;
  }
  /** Whether the bytes end before the length the IP header declares (only for an embedded original). */
  get truncated(): boolean {
    return this.cut;
  }
  /** For a view returned by `embedded()`: the ICMP error that carries it. */
  get outer(): Packet | undefined {
    return this.parent;
  }

  get addressLength(): 4 | 16 {
    return this.ver === 4 ? 4 : 16;
  }
  /** Where the source address starts in `buffer` (4 or 16 bytes). */
  get srcOffset(): number {
    return this.ip + (this.ver === 4 ? 12 : 8);
  }
  /** Where the destination address starts in `buffer`; always right after the source. */
  get dstOffset(): number {
    return this.ip + (this.ver === 4 ? 16 : 24);
  }
  /** IPv4 source address as an unsigned 32-bit number (IPv4 only). */
  get srcV4(): number {
    return read32(this.buf, this.ip + 12);
  }
  /** IPv4 destination address as an unsigned 32-bit number (IPv4 only). */
  get dstV4(): number {
    return read32(this.buf, this.ip + 16);
  }
  /** Source address as a Map key: a number for IPv4, an 8-character string for IPv6 (see address.ts). */
  srcKey(): AddressKey {
    return this.ver === 4 ? ipv4Key(this.buf, this.ip + 12) : ipv6Key(this.buf, this.ip + 8);
  }
  /** Destination address as a Map key (see `srcKey`). */
  dstKey(): AddressKey {
    return this.ver === 4 ? ipv4Key(this.buf, this.ip + 16) : ipv6Key(this.buf, this.ip + 24);
  }
  /** The source address bytes, as a view into `buffer` (allocates the small view object; not for the hot path). */
  srcAddress(): Uint8Array {
    return this.buf.subarray(this.srcOffset, this.srcOffset + this.addressLength);
  }
  /** The destination address bytes, as a view into `buffer` (see `srcAddress`). */
  dstAddress(): Uint8Array {
    return this.buf.subarray(this.dstOffset, this.dstOffset + this.addressLength);
  }
  /** IPv4 TTL or IPv6 hop limit. */
  get ttl(): number {
    return this.buf[this.ip + (this.ver === 4 ? 8 : 7)]!;
  }

  /** TCP/UDP source port. */
  get srcPort(): number {
    return read16(this.buf, this.l4);
  }
  /** TCP/UDP destination port. */
  get dstPort(): number {
    return read16(this.buf, this.l4 + 2);
  }
  get tcpSeq(): number {
    return read32(this.buf, this.l4 + 4);
  }
  /** Needs `transportHeaderComplete`, like the other TCP fields after the sequence number. */
  get tcpAck(): number {
    return read32(this.buf, this.l4 + 8);
  }
  /** TCP header length in bytes (data offset × 4), options included. */
  get tcpHeaderLength(): number {
    return (this.buf[this.l4 + 12]! >> 4) * 4;
  }
  /** TCP flag bits; test with `TcpFlag`. */
  get tcpFlags(): number {
    return this.buf[this.l4 + 13]!;
  }
  get tcpWindow(): number {
    return read16(this.buf, this.l4 + 14);
  }
  /** The UDP header's length field. */
  get udpLength(): number {
    return read16(this.buf, this.l4 + 4);
  }
  get icmpType(): number {
    return this.buf[this.l4]!;
  }
  get icmpCode(): number {
    return this.buf[this.l4 + 1]!;
  }
  /** Echo request/reply identifier (the "port" NAT rewrites). */
  get icmpId(): number {
    return read16(this.buf, this.l4 + 4);
  }
  /** Echo request/reply sequence number. */
  get icmpSeq(): number {
    return read16(this.buf, this.l4 + 6);
  }
  /** The MTU of an ICMPv4 "fragmentation needed" (type 3 code 4) or an ICMPv6 "packet too big". */
  get icmpMtu(): number {
    return this.ver === 4 ? read16(this.buf, this.l4 + 6) : read32(this.buf, this.l4 + 4);
  }
  /** The pointer of a parameter problem (ICMPv4: 8 bits, ICMPv6: 32 bits). */
  get icmpPointer(): number {
    return this.ver === 4 ? this.buf[this.l4 + 4]! : read32(this.buf, this.l4 + 4);
  }
  /** Whether this is an ICMP/ICMPv6 error that carries an original packet (`embedded()`). */
  get isIcmpError(): boolean {
    if (!this.transport) return false;
    const type = this.buf[this.l4]!;
    if (this.proto === IpProtocol.Icmp) {
      return (
        type === Icmpv4Type.DestinationUnreachable ||
        type === Icmpv4Type.TimeExceeded ||
        type === Icmpv4Type.ParameterProblem ||
        type === Icmpv4Type.SourceQuench ||
        type === Icmpv4Type.Redirect
      );
    }
    return (
      this.proto === IpProtocol.Icmpv6 &&
      type >= Icmpv6Type.DestinationUnreachable &&
      type <= Icmpv6Type.ParameterProblem
    );
  }
  /** Whether this is an ICMP/ICMPv6 echo request or reply (which have an id and a sequence number). */
  get isIcmpEcho(): boolean {
    if (!this.transport) return false;
    const type = this.buf[this.l4]!;
    if (this.proto === IpProtocol.Icmp) return type === Icmpv4Type.EchoRequest || type === Icmpv4Type.EchoReply;
    return this.proto === IpProtocol.Icmpv6 && (type === Icmpv6Type.EchoRequest || type === Icmpv6Type.EchoReply);
  }
  /** Where the TCP/UDP/ICMP/ICMPv6 checksum field is, or -1 when the packet has none present here. */
  get transportChecksumOffset(): number {
    return this.csumAt;
  }

  private fail(err: PacketError): PacketError {
    this.buf = EMPTY;
    this.ver = 4;
    this.ip = this.stop = this.l4 = this.pay = this.payEnd = this.proto = 0;
    this.transport = this.transportComplete = this.fragMore = this.cut = false;
    this.csumAt = -1;
    this.fragOffset = this.fragIdent = 0;
    return err;
  }

  /** `outer` set: an original packet inside an ICMP error, which may be cut short. */
  private parseAt(buf: Uint8Array, start: number, limit: number, outer: Packet | undefined): PacketError | undefined {
    this.parent = outer;
    if (limit - start < 1) return this.fail('truncated');
    this.buf = buf;
    this.ip = start;
    this.cut = false;
    this.transport = this.transportComplete = false;
    this.csumAt = -1;
    const version = buf[start]! >> 4;
    const err =
      version === 4
        ? this.parseIpv4(limit, outer !== undefined)
        : version === 6
          ? this.parseIpv6(limit, outer !== undefined)
          : 'unknown-version';
    return err === undefined ? undefined : this.fail(err);
  }

  private parseIpv4(limit: number, lenient: boolean): PacketError | undefined {
    const buf = this.buf;
    const start = this.ip;
    if (limit - start < 20) return 'truncated';
    const headerLength = (buf[start]! & 0x0f) * 4;
    if (headerLength < 20) return 'bad-header-length';
    if (start + headerLength > limit) return 'truncated';
    const total = read16(buf, start + 2);
    if (total < headerLength) return 'bad-header-length';
    this.ver = 4;
    this.stop = start + total;
    if (this.stop > limit) {
      if (!lenient) return 'truncated';
      this.stop = limit;
      this.cut = true;
    }
    this.l4 = start + headerLength;
    this.proto = buf[start + 9]!;
    const fragment = read16(buf, start + 6);
    this.fragOffset = (fragment & 0x1fff) * 8;
    this.fragMore = (fragment & 0x2000) !== 0;
    this.fragIdent = read16(buf, start + 4);
    return this.parseTransport(lenient);
  }

  private parseIpv6(limit: number, lenient: boolean): PacketError | undefined {
    const buf = this.buf;
    const start = this.ip;
    if (limit - start < 40) return 'truncated';
    this.ver = 6;
    this.stop = start + 40 + read16(buf, start + 4);
    if (this.stop > limit) {
      if (!lenient) return 'truncated';
      this.stop = limit;
      this.cut = true;
    }
    this.fragOffset = this.fragIdent = 0;
    this.fragMore = false;
    let next = buf[start + 6]!;
    let pos = start + 40;
    // Every extension header is at least 8 bytes, so the walk ends within the packet.
    for (;;) {
      let size: number;
      switch (next) {
        case IpProtocol.HopByHop:
        case IpProtocol.Routing:
        case IpProtocol.DestinationOptions:
        case IpProtocol.Mobility:
        case IpProtocol.Hip:
        case IpProtocol.Shim6:
          if (pos + 8 > this.stop) return 'bad-extension-header';
          size = (buf[pos + 1]! + 1) * 8;
          break;
        case IpProtocol.Ah:
          if (pos + 8 > this.stop) return 'bad-extension-header';
          size = (buf[pos + 1]! + 2) * 4;
          break;
        case IpProtocol.Fragment: {
          if (pos + 8 > this.stop) return 'bad-extension-header';
          const word = read16(buf, pos + 2);
          this.fragOffset = word & 0xfff8;
          this.fragMore = (word & 1) !== 0;
          this.fragIdent = read32(buf, pos + 4);
          size = 8;
          break;
        }
        default:
          this.l4 = pos;
          this.proto = next;
          return this.parseTransport(lenient);
      }
      if (pos + size > this.stop) return 'bad-extension-header';
      next = buf[pos]!;
      pos += size;
      // A later fragment's bytes after its Fragment header are the middle of the upper layer, not headers.
      if (this.fragOffset !== 0) {
        this.l4 = pos;
        this.proto = next;
        return this.parseTransport(lenient);
      }
    }
  }

  private parseTransport(lenient: boolean): PacketError | undefined {
    const buf = this.buf;
    const l4 = this.l4;
    const available = this.stop - l4;
    this.pay = l4;
    this.payEnd = this.stop;
    if (this.fragOffset !== 0) return undefined;
    switch (this.proto) {
      case IpProtocol.Tcp: {
        if (available < (lenient ? 8 : 20)) return 'truncated';
        this.transport = true;
        if (available >= 18) this.csumAt = l4 + 16;
        if (available < 20) {
          this.pay = this.stop;
          return undefined;
        }
        const headerLength = (buf[l4 + 12]! >> 4) * 4;
        if (headerLength < 20) return 'bad-tcp-header';
        if (headerLength > available) {
          if (!lenient) return 'bad-tcp-header';
          this.pay = this.stop;
          return undefined;
        }
        this.transportComplete = true;
        this.pay = l4 + headerLength;
        return undefined;
      }
      case IpProtocol.Udp: {
        if (available < 8) return 'truncated';
        const udpLength = read16(buf, l4 + 4);
        // A first fragment holds only part of the datagram the UDP length counts.
        if (!lenient && (udpLength < 8 || (udpLength > available && !this.fragMore))) return 'bad-udp-length';
        this.transport = this.transportComplete = true;
        this.csumAt = l4 + 6;
        this.pay = l4 + 8;
        if (udpLength >= 8 && udpLength < available) this.payEnd = l4 + udpLength;
        return undefined;
      }
      case IpProtocol.Icmp:
      case IpProtocol.Icmpv6: {
        // ICMPv4 inside IPv6 (or ICMPv6 inside IPv4) is not a thing; leave it unparsed like any other protocol.
        if ((this.proto === IpProtocol.Icmp) !== (this.ver === 4)) return undefined;
        if (available < 8) return 'truncated';
        this.transport = this.transportComplete = true;
        this.csumAt = l4 + 2;
        this.pay = l4 + 8;
        return undefined;
      }
      default:
        return undefined;
    }
  }
}
