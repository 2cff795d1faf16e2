import { read16, read32, write16, write32 } from './bytes.js';
import { adjustChecksum, wordDelta } from './checksum.js';
import { IpProtocol } from './constants.js';
import type { Packet } from './packet.js';

/**
 * In-place rewrites for NAT, each fixing every checksum that covers the changed bytes incrementally (RFC 1624):
 * - the IPv4 header checksum (addresses);
 * - the TCP/UDP checksum (addresses through the pseudo-header, ports), keeping a UDP/IPv4 checksum of 0 at 0
 *   ("no checksum") and writing a computed 0 as 0xffff (RFC 768);
 * - the ICMPv6 checksum (addresses through the pseudo-header, echo id); the ICMPv4 checksum (echo id only: it has
 *   no pseudo-header);
 * - for a view from `embedded()`: also the outer ICMP/ICMPv6 checksum, which covers the embedded bytes, including
 *   the embedded checksums just changed.
 * A transport checksum that is not present is left alone: later fragments have none (the first fragment's covers the
 * whole datagram, pseudo-header included), and an embedded TCP header cut at 8 bytes has none.
 *
 * Functions take the parsed view; the version, protocol and port/id must suit the call (setSrcV4 on an IPv4 packet,
 * setSrcPort on TCP/UDP with a transport header, setIcmpId on an echo), which callers know from classifying.
 */

/** Sets the IPv4 source address (an unsigned 32-bit number). */
export function setSrcV4(p: Packet, address: number): void {
  setV4(p, p.ipOffset + 12, address);
}

/** Sets the IPv4 destination address (an unsigned 32-bit number). */
export function setDstV4(p: Packet, address: number): void {
  setV4(p, p.ipOffset + 16, address);
}

/** Sets the IPv6 source address to the 16 bytes at `address[offset]`. */
export function setSrcV6(p: Packet, address: Uint8Array, offset = 0): void {
  setV6(p, p.ipOffset + 8, address, offset);
}

/** Sets the IPv6 destination address to the 16 bytes at `address[offset]`. */
export function setDstV6(p: Packet, address: Uint8Array, offset = 0): void {
  setV6(p, p.ipOffset + 24, address, offset);
}

/** Sets the TCP/UDP source port. */
export function setSrcPort(p: Packet, port: number): void {
  setTransportWord(p, p.transportOffset, port);
}

/** Sets the TCP/UDP destination port. */
export function setDstPort(p: Packet, port: number): void {
  setTransportWord(p, p.transportOffset + 2, port);
}

/** Sets the identifier of an ICMP/ICMPv6 echo request or reply. */
export function setIcmpId(p: Packet, id: number): void {
  setTransportWord(p, p.transportOffset + 4, id);
}

function setV4(p: Packet, at: number, address: number): void {
  const buf = p.buffer;
  const old = read32(buf, at);
  if (old === address >>> 0) return;
  const delta = wordDelta(old >>> 16, address >>> 16) + wordDelta(old & 0xffff, address & 0xffff);
  write32(buf, at, address);
  let changed = delta + adjustField(buf, p.ipOffset + 10, delta, false);
  if (p.protocol === IpProtocol.Tcp || p.protocol === IpProtocol.Udp) changed += adjustTransport(p, delta);
  adjustOuter(p, changed);
}

function setV6(p: Packet, at: number, address: Uint8Array, offset: number): void {
  const buf = p.buffer;
  let delta = 0;
  for (let i = 0; i < 16; i += 2) {
    const next = (address[offset + i]! << 8) | address[offset + i + 1]!;
    delta += wordDelta(read16(buf, at + i), next);
    write16(buf, at + i, next);
  }
  let changed = delta;
  if (p.protocol === IpProtocol.Tcp || p.protocol === IpProtocol.Udp || p.protocol === IpProtocol.Icmpv6) {
    changed += adjustTransport(p, delta);
  }
  adjustOuter(p, changed);
}

/** A 16-bit field inside the transport header (port or echo id), covered by the transport checksum. */
function setTransportWord(p: Packet, at: number, value: number): void {
  const buf = p.buffer;
  const old = read16(buf, at);
  if (old === value) return;
  const delta = wordDelta(old, value);
  write16(buf, at, value);
  adjustOuter(p, delta + adjustTransport(p, delta));
}

/** Adjusts the transport checksum, if present; returns the delta of the checksum field itself. */
function adjustTransport(p: Packet, delta: number): number {
  const at = p.transportChecksumOffset;
  if (at < 0) return 0;
  return adjustField(p.buffer, at, delta, p.protocol === IpProtocol.Udp);
}

/** The outer ICMP error's checksum covers every byte changed in the original it carries. */
function adjustOuter(p: Packet, delta: number): void {
  const outer = p.outer;
  if (outer) adjustField(outer.buffer, outer.transportChecksumOffset, delta, false);
}

/** Applies `delta` to the checksum field at `at`; returns the field's own change as a delta. */
function adjustField(buf: Uint8Array, at: number, delta: number, udp: boolean): number {
  const old = read16(buf, at);
  // UDP: 0 means "no checksum" (allowed over IPv4 only; over IPv6 such a packet is invalid anyway and stays so).
  if (udp && old === 0) return 0;
  let next = adjustChecksum(old, delta);
  if (udp && next === 0) next = 0xffff;
  write16(buf, at, next);
  return wordDelta(old, next);
}
