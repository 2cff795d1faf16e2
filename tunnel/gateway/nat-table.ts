import { addressKey } from '../packet/index.js';
import type { IpBytes } from './destinations.js';

/**
 * One client's NAT table: (protocol, client port or ICMP id, destination as the client sees it, destination port) ↔
 * (gateway port, real destination, destination port). Both directions are one Map lookup (O(1) per packet).
 *
 * The gateway only translates destinations (mapped IP → real IP, NAT64/46 across families); the source address stays
 * the client's tunnel address and the kernel's masquerade turns it into the uplink address (see gateway/README.md).
 * So the tuple the kernel sees — (client tunnel address, gateway port, real IP, port) — must be unique per client:
 * two flows from one client port to two mapped IPs whose domains resolve to the same real IP would otherwise merge
 * into one conntrack entry. The client's port is kept when that tuple is free and rewritten only on such a collision.
 *
 * Idle timeouts follow Firezone's gateway: TCP 2 h 4 min (RFC 5382's minimum for established flows), UDP and ICMP
 * 2 min (RFC 4787), 60 s for a flow that never saw a reply, 5 s once both sides sent FIN, and gone at once on RST.
 */

export type NatProtocol = 'tcp' | 'udp' | 'icmp';

export const NAT_TIMEOUTS = {
  tcpMs: (2 * 60 + 4) * 60_000,
  udpMs: 2 * 60_000,
  icmpMs: 2 * 60_000,
  unansweredMs: 60_000,
  finishedMs: 5_000,
} as const;

export const TCP_FIN = 0x01;
export const TCP_RST = 0x04;

export interface NatEntry {
  readonly protocol: NatProtocol;
  /** Source port (ICMP echo id) as the client sent it. */
  readonly clientPort: number;
  /** Destination as the client addressed it: a mapped IP, or the real address for CIDR resources. */
  readonly insideDst: IpBytes;
  /** Destination port; 0 for ICMP. Never rewritten. */
  readonly dstPort: number;
  /** Source port (ICMP echo id) the network sees. */
  readonly gatewayPort: number;
  /** The real destination; of the other family than `insideDst` under NAT64/NAT46. */
  readonly outsideDst: IpBytes;
  readonly resourceId: string;
  /** The domain for DNS resources, for the access log and for re-checks when a resource changes. */
  readonly domain: string | undefined;
  readonly created: number;
  lastOutbound: number;
  lastInbound: number | undefined;
  finOut: boolean;
  finIn: boolean;
  bytesOut: number;
  bytesIn: number;
}

export type NatEntrySpec = Pick<
  NatEntry,
  'protocol' | 'clientPort' | 'insideDst' | 'dstPort' | 'outsideDst' | 'resourceId' | 'domain'
>;

export class NatTable {
  private readonly inside = new Map<string, NatEntry>();
  private readonly outside = new Map<string, NatEntry>();
  /** Where the search for a free port continues after a collision (spreads rewritten ports, keeps search short). */
  private portCursor = 49152;

  constructor(private readonly maxEntries = 16_384) {}

  get size(): number {
    return this.inside.size;
  }

  entries(): IterableIterator<NatEntry> {
    return this.inside.values();
  }

  /** The live entry for a packet from the client, or undefined. */
  outbound(
    protocol: NatProtocol,
    clientPort: number,
    dst: IpBytes,
    dstPort: number,
    now: number,
  ): NatEntry | undefined {
    return this.live(this.inside.get(insideKey(protocol, clientPort, dst, dstPort)), now);
  }

  /** The live entry for a reply from the network (`src`/`srcPort` are the real destination's), or undefined. */
  inbound(
    protocol: NatProtocol,
    gatewayPort: number,
    src: IpBytes,
    srcPort: number,
    now: number,
  ): NatEntry | undefined {
    return this.live(this.outside.get(outsideKey(protocol, gatewayPort, src, srcPort)), now);
  }

  /** A new entry, keeping the client's port when free; undefined when the table is full or no port is free. */
  create(spec: NatEntrySpec, now: number): NatEntry | undefined {
    if (this.inside.size >= this.maxEntries) return undefined;
    const gatewayPort = this.freePort(spec, now);
    if (gatewayPort === undefined) return undefined;
    const entry: NatEntry = {
      ...spec,
      // Callers pass views into a packet that is about to be rewritten: keep copies (Uint8Array.from, since a
      // Buffer's slice() is another view).
      insideDst: Uint8Array.from(spec.insideDst),
      outsideDst: Uint8Array.from(spec.outsideDst),
      gatewayPort,
      created: now,
      lastOutbound: now,
      lastInbound: undefined,
      finOut: false,
      finIn: false,
      bytesOut: 0,
      bytesIn: 0,
    };
    this.inside.set(insideKey(spec.protocol, spec.clientPort, spec.insideDst, spec.dstPort), entry);
    this.outside.set(outsideKey(spec.protocol, gatewayPort, spec.outsideDst, spec.dstPort), entry);
    return entry;
  }

  /** Records a packet from the client (after it was translated); an RST ends the flow at once. */
  noteOutbound(entry: NatEntry, bytes: number, tcpFlags: number, now: number): void {
    entry.lastOutbound = now;
    entry.bytesOut += bytes;
    if (tcpFlags & TCP_FIN) entry.finOut = true;
    if (tcpFlags & TCP_RST) this.remove(entry);
  }

  /** Records a reply from the network (after it was translated); an RST ends the flow at once. */
  noteInbound(entry: NatEntry, bytes: number, tcpFlags: number, now: number): void {
    entry.lastInbound = now;
    entry.bytesIn += bytes;
    if (tcpFlags & TCP_FIN) entry.finIn = true;
    if (tcpFlags & TCP_RST) this.remove(entry);
  }

  remove(entry: NatEntry): void {
    const ik = insideKey(entry.protocol, entry.clientPort, entry.insideDst, entry.dstPort);
    if (this.inside.get(ik) === entry) this.inside.delete(ik);
    const ok = outsideKey(entry.protocol, entry.gatewayPort, entry.outsideDst, entry.dstPort);
    if (this.outside.get(ok) === entry) this.outside.delete(ok);
  }

  /** Removes and returns the entries `predicate` selects. */
  removeWhere(predicate: (entry: NatEntry) => boolean): NatEntry[] {
    const removed: NatEntry[] = [];
    for (const entry of this.inside.values()) {
      if (!predicate(entry)) continue;
      this.remove(entry);
      removed.push(entry);
    }
    return removed;
  }

  /** Removes and returns the entries idle past their timeout. */
  sweep(now: number): NatEntry[] {
    return this.removeWhere((entry) => natEntryExpiry(entry) <= now);
  }

  private live(entry: NatEntry | undefined, now: number): NatEntry | undefined {
    if (!entry) return undefined;
    if (natEntryExpiry(entry) > now) return entry;
    this.remove(entry);
    return undefined;
  }

  private freePort(spec: NatEntrySpec, now: number): number | undefined {
    if (this.outsideFree(spec, spec.clientPort, now)) return spec.clientPort;
    // ICMP ids may be anything; rewritten TCP/UDP ports stay out of the well-known range.
    const low = spec.protocol === 'icmp' ? 0 : 1024;
    const span = 65536 - low;
    for (let i = 0; i < span; i++) {
      const port = low + ((this.portCursor - low + i) % span);
      if (this.outsideFree(spec, port, now)) {
        this.portCursor = port + 1 > 65535 ? low : port + 1;
        return port;
      }
    }
    return undefined;
  }

  private outsideFree(spec: NatEntrySpec, port: number, now: number): boolean {
    const key = outsideKey(spec.protocol, port, spec.outsideDst, spec.dstPort);
    return this.live(this.outside.get(key), now) === undefined;
  }
}

/** When an entry times out if no further packet arrives. */
export function natEntryExpiry(entry: NatEntry): number {
  const last = Math.max(entry.lastOutbound, entry.lastInbound ?? 0);
  if (entry.finOut && entry.finIn) return last + NAT_TIMEOUTS.finishedMs;
  if (entry.lastInbound === undefined) return entry.lastOutbound + NAT_TIMEOUTS.unansweredMs;
  const idle =
    entry.protocol === 'tcp' ? NAT_TIMEOUTS.tcpMs : entry.protocol === 'udp' ? NAT_TIMEOUTS.udpMs : NAT_TIMEOUTS.icmpMs;
  return last + idle;
}

function insideKey(protocol: NatProtocol, clientPort: number, dst: IpBytes, dstPort: number): string {
  return `${protocol}|${clientPort}|${dstPort}|${addressKey(dst)}`;
}

function outsideKey(protocol: NatProtocol, gatewayPort: number, dst: IpBytes, dstPort: number): string {
  return `${protocol}|${gatewayPort}|${dstPort}|${addressKey(dst)}`;
}
