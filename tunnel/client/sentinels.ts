import {
  cidrContains,
  cidrSize,
  compareIp,
  formatIp,
  nthAddress,
  parseIp,
  type Cidr,
  type IpAddress,
  type Ipv4Cidr,
  type Ipv6Cidr,
} from '../../protocol/ip.js';

/**
 * DNS sentinels (DESIGN.md "Interception"): one address per upstream resolver, one to one, so the OS keeps its own
 * choice between healthy servers — a dead upstream makes its sentinel unresponsive and the OS moves to the next.
 * An IPv4 upstream gets an IPv4 sentinel, an IPv6 upstream an IPv6 one. Upstreams keep their sentinel while they
 * stay configured (a change of the list only moves what changed), and the lowest free sentinel goes to a new one.
 *
 * Upstreams that would loop (inside the sentinel or mapped ranges, or not an address) are left out and reported.
 */

export interface SentinelEntry {
  sentinel: IpAddress;
  upstream: IpAddress;
}

export interface SentinelUpdate {
  changed: boolean;
  /** Upstreams given but not used, with the reason. */
  ignored: { upstream: string; reason: string }[];
}

export class Sentinels {
  /** Sentinel (number or bigint) → upstream. */
  readonly #byUpstream = new Map<IpAddress, IpAddress>();
  readonly #bySentinel = new Map<IpAddress, IpAddress>();

  constructor(
    readonly ranges: { ipv4: Ipv4Cidr; ipv6: Ipv6Cidr },
    /** Ranges an upstream must not be in (the mapped ranges); the sentinel ranges are always excluded. */
    readonly forbidden: readonly Cidr[],
  ) {}

  /** Replaces the upstream list; returns whether the sentinel map changed. */
  setUpstreams(upstreams: readonly string[]): SentinelUpdate {
    const ignored: SentinelUpdate['ignored'] = [];
    const wanted: IpAddress[] = [];
    for (const text of upstreams) {
      const parsed = parseIp(text);
      if (!parsed.ok) {
        ignored.push({ upstream: text, reason: parsed.error });
        continue;
      }
      const address = parsed.value;
      if ([this.ranges.ipv4, this.ranges.ipv6, ...this.forbidden].some((range) => cidrContains(range, address))) {
        ignored.push({ upstream: text, reason: 'inside a range routed into the tunnel (it would loop)' });
        continue;
      }
      if (!wanted.includes(address)) wanted.push(address);
    }
    let changed = false;
    for (const [upstream, sentinel] of [...this.#byUpstream]) {
      if (wanted.includes(upstream)) continue;
      this.#byUpstream.delete(upstream);
      this.#bySentinel.delete(sentinel);
      changed = true;
    }
    for (const upstream of wanted) {
      if (this.#byUpstream.has(upstream)) continue;
      const sentinel = this.#freeSentinel(typeof upstream === 'number' ? this.ranges.ipv4 : this.ranges.ipv6);
      if (sentinel === undefined) {
        ignored.push({ upstream: formatIp(upstream), reason: 'no sentinel address left' });
        continue;
      }
      this.#byUpstream.set(upstream, sentinel);
      this.#bySentinel.set(sentinel, upstream);
      changed = true;
    }
    return { changed, ignored };
  }

  upstreamOf(sentinel: IpAddress): IpAddress | undefined {
    return this.#bySentinel.get(sentinel);
  }

  sentinelOf(upstream: IpAddress): IpAddress | undefined {
    return this.#byUpstream.get(upstream);
  }

  isSentinelRange(address: IpAddress): boolean {
    return cidrContains(typeof address === 'number' ? this.ranges.ipv4 : this.ranges.ipv6, address);
  }

  /** Sentinel ↔ upstream, ordered by sentinel. */
  entries(): SentinelEntry[] {
    return [...this.#bySentinel]
      .map(([sentinel, upstream]) => ({ sentinel, upstream }))
      .sort((a, b) => compareIp(a.sentinel, b.sentinel));
  }

  get size(): number {
    return this.#bySentinel.size;
  }

  #freeSentinel(range: Cidr): IpAddress | undefined {
    // Skip the network address and, for IPv4, the broadcast address.
    const last = cidrSize(range) - (range.family === 4 ? 1n : 0n);
    for (let n = 1n; n < last; n++) {
      const candidate = nthAddress(range, n);
      if (!this.#bySentinel.has(candidate)) return candidate;
    }
    return undefined;
  }
}
