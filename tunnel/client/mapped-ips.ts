import {
  cidrContains,
  cidrsOverlap,
  cidrSize,
  formatCidr,
  ipv4,
  ipv6,
  readIpv4,
  type Cidr,
  type IpAddress,
  type Ipv4,
  type Ipv4Cidr,
  type Ipv6,
  type Ipv6Cidr,
} from '../../protocol/ip.js';

/**
 * Mapped (proxy) IPs for DNS resources (DESIGN.md "Stub resolver", seed 000): every domain a granted DNS resource
 * matches gets a fixed set of 4 IPv4 and 4 IPv6 addresses the first time it is asked for, whatever its real records
 * (Firezone does the same), and keeps them for the life of the process — across sign-out and sign-in — so an
 * application that cached an answer can still reach the domain. No address is ever handed to two domains.
 *
 * Layout: both ranges are cut into aligned blocks of 4 addresses; domain n gets block b in both families (IPv4
 * `base4 + 4b … + 3`, IPv6 `base6 + 4b … + 3`). So a mapping is just a block number, the answer to "which domain is
 * this address" is arithmetic plus an array look-up (no per-address map), and each domain is two CIDRs (/30 and
 * /126) in WireGuard's allowed IPs. Block 0 (the network address) and the last block (IPv4's broadcast address) are
 * never used, nor any block that touches a reserved range (the IPv4 sentinels lie inside the default mapped range).
 *
 * Memory is bounded by `maxDomains` (default 65,536; each domain costs ~250 bytes plus its name): when the ranges
 * or the cap run out, `assign` returns an `exhausted` error with a message saying which, and nothing is recycled —
 * recycling would hand a live application's address to another domain.
 */

export const ADDRESSES_PER_FAMILY = 4;
export const DEFAULT_MAX_DOMAINS = 65_536;

export interface MappedRanges {
  ipv4: Ipv4Cidr;
  ipv6: Ipv6Cidr;
}

/** One domain's mapping. `resourceId` and `lastUsedAt` are kept up to date by the client state. */
export interface DomainMapping {
  readonly domain: string;
  readonly block: number;
  readonly ipv4: readonly Ipv4[];
  readonly ipv6: readonly Ipv6[];
  /** The resource the domain matched when last asked for; undefined once no granted resource matches it. */
  resourceId: string | undefined;
  lastUsedAt: number;
}

export type AssignResult =
  { ok: true; mapping: DomainMapping; created: boolean } | { ok: false; error: 'exhausted'; message: string };

export interface MappedIpAllocatorOptions {
  /** Ranges inside the mapped ranges that must never be handed out (the DNS sentinels). */
  reserved?: readonly Cidr[];
  maxDomains?: number;
}

export class MappedIpAllocator {
  readonly #byDomain = new Map<string, DomainMapping>();
  /** Block number → mapping; holes for skipped blocks. */
  readonly #byBlock: (DomainMapping | undefined)[] = [];
  /** Inclusive block intervals that touch a reserved range in either family. */
  readonly #reservedBlocks: [number, number][] = [];
  readonly #maxDomains: number;
  /** Blocks beyond the last usable one (the last block of the smaller range is kept free). */
  readonly #blockLimit: number;
  readonly #base4: number;
  /** The IPv6 base split for the hot path: its first 12 bytes, and its low 32 bits as a number. */
  readonly #base6High: Uint8Array;
  readonly #base6Low: number;
  readonly #size4: number;
  readonly #size6: number;
  #nextBlock = 1;

  constructor(
    readonly ranges: MappedRanges,
    options: MappedIpAllocatorOptions = {},
  ) {
    this.#maxDomains = options.maxDomains ?? DEFAULT_MAX_DOMAINS;
    // Sizes above 2³¹ cannot be used anyway (the cap is far below); clamp so the hot path stays in small integers.
    this.#size4 = Number(bigMin(cidrSize(ranges.ipv4), 1n << 31n));
    this.#size6 = Number(bigMin(cidrSize(ranges.ipv6), 1n << 31n));
    this.#blockLimit = Math.floor(Math.min(this.#size4, this.#size6) / ADDRESSES_PER_FAMILY) - 1;
    this.#base4 = ranges.ipv4.network;
    const base6 = ranges.ipv6.network as bigint;
    this.#base6High = new Uint8Array(12);
    for (let i = 0; i < 12; i++) this.#base6High[i] = Number((base6 >> BigInt(8 * (15 - i))) & 0xffn);
    this.#base6Low = Number(base6 & 0xffff_ffffn);
    for (const reserved of options.reserved ?? []) {
      const range = reserved.family === 4 ? ranges.ipv4 : ranges.ipv6;
      if (!cidrsOverlap(range, reserved)) continue;
      const first = bigMax(BigInt(reserved.network) - BigInt(range.network), 0n);
      const last = bigMin(
        BigInt(reserved.network) + cidrSize(reserved) - 1n - BigInt(range.network),
        cidrSize(range) - 1n,
      );
      const perBlock = BigInt(ADDRESSES_PER_FAMILY);
      this.#reservedBlocks.push([Number(first / perBlock), Number(bigMin(last / perBlock, 1n << 40n))]);
    }
  }

  get size(): number {
    return this.#byDomain.size;
  }

  /** How many domains these ranges and the cap allow at most. */
  get capacity(): number {
    return Math.min(this.#maxDomains, Math.max(0, this.#blockLimit - 1));
  }

  get(domain: string): DomainMapping | undefined {
    return this.#byDomain.get(domain);
  }

  /** The domain's mapping, created on first use. `domain` must be normalised. */
  assign(domain: string, now: number): AssignResult {
    const existing = this.#byDomain.get(domain);
    if (existing !== undefined) return { ok: true, mapping: existing, created: false };
    if (this.#byDomain.size >= this.#maxDomains) {
      return {
        ok: false,
        error: 'exhausted',
        message: `no mapped IPs for ${domain}: the limit of ${this.#maxDomains} domains is reached`,
      };
    }
    while (this.#nextBlock < this.#blockLimit && this.#isReserved(this.#nextBlock)) this.#nextBlock++;
    if (this.#nextBlock >= this.#blockLimit) {
      return {
        ok: false,
        error: 'exhausted',
        message:
          `no mapped IPs for ${domain}: the ranges ${formatCidr(this.ranges.ipv4)} and ` +
          `${formatCidr(this.ranges.ipv6)} are used up (${this.#byDomain.size} domains)`,
      };
    }
    const block = this.#nextBlock++;
    const mapping: DomainMapping = {
      domain,
      block,
      ipv4: Array.from({ length: ADDRESSES_PER_FAMILY }, (_, i) =>
        ipv4(this.#base4 + block * ADDRESSES_PER_FAMILY + i),
      ),
      ipv6: Array.from({ length: ADDRESSES_PER_FAMILY }, (_, i) =>
        ipv6(BigInt(this.ranges.ipv6.network) + BigInt(block * ADDRESSES_PER_FAMILY + i)),
      ),
      resourceId: undefined,
      lastUsedAt: now,
    };
    this.#byDomain.set(domain, mapping);
    this.#byBlock[block] = mapping;
    return { ok: true, mapping, created: true };
  }

  /** The mapping an address belongs to (PTR answers, packets), or undefined. */
  mappingOf(address: IpAddress): DomainMapping | undefined {
    const offset =
      typeof address === 'number'
        ? address - this.#base4
        : Number((BigInt(address) - BigInt(this.ranges.ipv6.network)) & 0xffff_ffffn);
    if (typeof address === 'bigint' && !cidrContains(this.ranges.ipv6, address)) return undefined;
    return this.#mappingAtOffset(offset, typeof address === 'number' ? this.#size4 : this.#size6);
  }

  /**
   * The hot-path form of `mappingOf`: the destination address of a packet as 4 or 16 bytes at `offset` in `buf`,
   * without building an address value.
   */
  mappingAt(buf: Uint8Array, offset: number, length: 4 | 16): DomainMapping | undefined {
    if (length === 4) return this.#mappingAtOffset(readIpv4(buf, offset) - this.#base4, this.#size4);
    for (let i = 0; i < 12; i++) if (buf[offset + i] !== this.#base6High[i]) return undefined;
    const low = readIpv4(buf, offset + 12);
    return this.#mappingAtOffset(low - this.#base6Low, this.#size6);
  }

  /** Whether the address lies in a mapped range (allocated or not). */
  inRanges(address: IpAddress): boolean {
    return cidrContains(typeof address === 'number' ? this.ranges.ipv4 : this.ranges.ipv6, address);
  }

  mappings(): IterableIterator<DomainMapping> {
    return this.#byDomain.values();
  }

  #mappingAtOffset(offset: number, size: number): DomainMapping | undefined {
    if (offset < 0 || offset >= size) return undefined;
    return this.#byBlock[Math.floor(offset / ADDRESSES_PER_FAMILY)];
  }

  #isReserved(block: number): boolean {
    return this.#reservedBlocks.some(([first, last]) => block >= first && block <= last);
  }
}

function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
