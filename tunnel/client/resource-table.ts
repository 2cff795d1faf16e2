import { formatCidr, makeCidr, parseCidr, type Cidr, type IpAddress } from '../../protocol/ip.js';
import type { BlockRule, CidrResource, DnsResource, Resource } from '../../protocol/resources.js';
import { DomainPatternTable, formatDomainPattern, parseDomainPattern } from '../dns/index.js';

/**
 * The resources the portal granted (DESIGN.md "Matching": resources a policy does not grant are never intercepted,
 * because the portal sends only granted ones) and the block rules, indexed for the two questions the client asks:
 * "which DNS resource does this name match" (most specific pattern, see tunnel/dns/pattern.ts) and "which CIDR resource
 * holds this address" (longest prefix). Two resources with the same pattern or range: the smaller id wins, so the
 * answer does not depend on message order. Resources whose address cannot be used are listed in `invalid`.
 */

export interface InvalidResource {
  id: string;
  address: string;
  reason: string;
}

export class ResourceTable {
  readonly #byId = new Map<string, Resource>();
  readonly #dns = new DomainPatternTable<DnsResource>();
  /** Per prefix length (longest first), network → resource; IPv4 and IPv6 apart. */
  #cidr4: Map<number, Map<number, CidrResource>> = new Map();
  #cidr6: Map<number, Map<bigint, CidrResource>> = new Map();
  #cidrRanges = new Map<string, Cidr>();
  readonly #blocks = new DomainPatternTable<BlockRule>();
  #invalid: InvalidResource[] = [];
  #invalidBlockRules: string[] = [];

  get(id: string): Resource | undefined {
    return this.#byId.get(id);
  }

  all(): Resource[] {
    return [...this.#byId.values()];
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Resources that are ignored because their address is not a valid pattern or range. */
  get invalid(): readonly InvalidResource[] {
    return this.#invalid;
  }

  get invalidBlockRules(): readonly string[] {
    return this.#invalidBlockRules;
  }

  /** Replaces every resource. */
  replaceAll(resources: readonly Resource[]): void {
    this.#byId.clear();
    for (const resource of resources) this.#byId.set(resource.id, resource);
    this.#rebuild();
  }

  /** Adds or replaces one; returns the previous definition. */
  upsert(resource: Resource): Resource | undefined {
    const previous = this.#byId.get(resource.id);
    this.#byId.set(resource.id, resource);
    this.#rebuild();
    return previous;
  }

  remove(id: string): Resource | undefined {
    const previous = this.#byId.get(id);
    if (previous === undefined) return undefined;
    this.#byId.delete(id);
    this.#rebuild();
    return previous;
  }

  clear(): void {
    this.replaceAll([]);
    this.setBlockRules([]);
  }

  /** The DNS resource for a name in normal form (lower case, no trailing dot). */
  matchDomain(name: string): DnsResource | undefined {
    return this.#dns.matchNormalized(name);
  }

  /** The CIDR resource with the longest prefix holding `address`. */
  matchAddress(address: IpAddress): CidrResource | undefined {
    if (typeof address === 'number') {
      for (const [prefix, networks] of this.#cidr4) {
        const hit = networks.get(makeCidr(address, prefix).network as number);
        if (hit !== undefined) return hit;
      }
      return undefined;
    }
    for (const [prefix, networks] of this.#cidr6) {
      const hit = networks.get(makeCidr(address, prefix).network as bigint);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  /** The range of a CIDR resource in canonical form. */
  rangeOf(id: string): Cidr | undefined {
    return this.#cidrRanges.get(id);
  }

  /** Every CIDR resource's range, for routes and allowed IPs. */
  ranges(): Cidr[] {
    return [...this.#cidrRanges.values()];
  }

  setBlockRules(rules: readonly BlockRule[]): void {
    this.#blocks.clear();
    this.#invalidBlockRules = [];
    for (const rule of rules) {
      const pattern = parseDomainPattern(rule.pattern);
      if ('error' in pattern) {
        this.#invalidBlockRules.push(`${rule.pattern}: ${pattern.reason}`);
        continue;
      }
      // The first rule for a pattern wins, as a rule file is read top to bottom.
      if (this.#blocks.get(pattern) === undefined) this.#blocks.set(pattern, rule);
    }
  }

  matchBlockRule(name: string): BlockRule | undefined {
    return this.#blocks.matchNormalized(name);
  }

  #rebuild(): void {
    this.#dns.clear();
    const cidr4 = new Map<number, Map<number, CidrResource>>();
    const cidr6 = new Map<number, Map<bigint, CidrResource>>();
    this.#cidrRanges = new Map();
    this.#invalid = [];
    const ordered = [...this.#byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const resource of ordered) {
      if (resource.type === 'dns') {
        const pattern = parseDomainPattern(resource.address);
        if ('error' in pattern) {
          this.#invalid.push({ id: resource.id, address: resource.address, reason: pattern.reason });
          continue;
        }
        if (this.#dns.get(pattern) === undefined) this.#dns.set(pattern, resource);
        else this.#invalid.push({ id: resource.id, address: formatDomainPattern(pattern), reason: 'duplicate' });
        continue;
      }
      const parsed = parseCidr(resource.address, { allowHostBits: true, allowBareAddress: true });
      if (!parsed.ok) {
        this.#invalid.push({ id: resource.id, address: resource.address, reason: parsed.error });
        continue;
      }
      const range = parsed.value;
      const key = formatCidr(range);
      if ([...this.#cidrRanges.values()].some((r) => formatCidr(r) === key)) {
        this.#invalid.push({ id: resource.id, address: key, reason: 'duplicate' });
        continue;
      }
      this.#cidrRanges.set(resource.id, range);
      if (range.family === 4) {
        let networks = cidr4.get(range.prefix);
        if (networks === undefined) cidr4.set(range.prefix, (networks = new Map()));
        networks.set(range.network, resource);
      } else {
        let networks = cidr6.get(range.prefix);
        if (networks === undefined) cidr6.set(range.prefix, (networks = new Map()));
        networks.set(range.network, resource);
      }
    }
    // Longest prefix first, so the first hit is the most specific.
    this.#cidr4 = new Map([...cidr4].sort((a, b) => b[0] - a[0]));
    this.#cidr6 = new Map([...cidr6].sort((a, b) => b[0] - a[0]));
  }
}
