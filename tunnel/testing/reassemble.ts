import { IPV4_HEADER_LENGTH, IPV6_HEADER_LENGTH, Packet, writeIpv4Header, writeIpv6Header } from '../packet/index.js';

/**
 * Reassembles IP fragments into the datagram they were cut from, so a test can check the transport checksum of a
 * fragmented datagram (it covers the whole). Test-only and simple: fragments are kept until the set is complete,
 * overlaps are not handled, and an IPv6 datagram is rebuilt with no extension headers (the captures have none besides
 * the Fragment header).
 */
export class Reassembler {
  private readonly pending = new Map<string, Array<{ offset: number; data: Uint8Array; more: boolean }>>();
  private readonly view = new Packet();

  /** Adds a fragment (a parsed view of it); returns the reassembled datagram once all its fragments are in. */
  add(fragment: Packet): Uint8Array | undefined {
    const key = `${fragment.version}/${fragment.srcKey()}/${fragment.dstKey()}/${fragment.fragmentId}`;
    const parts = this.pending.get(key) ?? [];
    this.pending.set(key, parts);
    const start = fragment.transportOffset;
    parts.push({
      offset: fragment.fragmentOffset,
      data: fragment.buffer.slice(start, fragment.end),
      more: fragment.moreFragments,
    });
    parts.sort((a, b) => a.offset - b.offset);
    let expected = 0;
    for (const part of parts) {
      if (part.offset !== expected) return undefined;
      expected += part.data.length;
    }
    if (parts.at(-1)!.more) return undefined;
    this.pending.delete(key);
    const headerLength = fragment.version === 4 ? IPV4_HEADER_LENGTH : IPV6_HEADER_LENGTH;
    const out = new Uint8Array(headerLength + expected);
    const src = fragment.srcAddress();
    const dst = fragment.dstAddress();
    if (fragment.version === 4) {
      writeIpv4Header(out, 0, src, dst, fragment.protocol, out.length, fragment.ttl, fragment.fragmentId);
    } else {
      writeIpv6Header(out, 0, src, dst, fragment.protocol, expected, fragment.ttl);
    }
    let at = headerLength;
    for (const part of parts) {
      out.set(part.data, at);
      at += part.data.length;
    }
    return this.view.parse(out) === undefined ? out : undefined;
  }
}
