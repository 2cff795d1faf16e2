import { addressKey, type AddressKey } from '../packet/index.js';
import type { IpBytes } from './destinations.js';

/**
 * One client's DNS-resource mappings: which mapped IPs it assigned to which domain, and the real addresses the
 * gateway resolved for that domain (DESIGN.md "Gateway behaviour" 2).
 *
 * The n-th mapped IP of a family goes to the n-th record of the same family, cycling when there are more mapped IPs
 * than records, so a client that spreads connections over its mapped IPs (happy eyeballs, round-robin DNS) spreads
 * them over the real servers too. A family without records borrows the other family's (NAT64/NAT46).
 */

export interface DomainRecords {
  readonly v4: readonly IpBytes[];
  readonly v6: readonly IpBytes[];
}

export interface DomainMapping {
  readonly domain: string;
  resourceId: string;
  proxyIps: IpBytes[];
  /** The latest successful resolution; undefined until the first one. Flows keep the address they started with. */
  records: DomainRecords | undefined;
  /** Until when new flows may use `records` without a re-query (TTL within the min/max rule time). */
  validUntil: number;
}

export type ProxyTarget =
  | { kind: 'real'; mapping: DomainMapping; address: IpBytes }
  /** Resolved, but no record of either family (or none forwardable). */
  | { kind: 'unresolved'; mapping: DomainMapping }
  /** Never resolved yet, or the resolution is older than its rule time: new flows wait for a (re-)query. */
  | { kind: 'stale'; mapping: DomainMapping };

interface ProxySlot {
  mapping: DomainMapping;
  /** Position among the mapping's mapped IPs of the same family. */
  index: number;
}

export class DnsMappings {
  private readonly domains = new Map<string, DomainMapping>();
  private readonly proxies = new Map<AddressKey, ProxySlot>();

  get size(): number {
    return this.domains.size;
  }

  get(domain: string): DomainMapping | undefined {
    return this.domains.get(domain);
  }

  all(): IterableIterator<DomainMapping> {
    return this.domains.values();
  }

  /**
   * Records that the client assigned `proxyIps` to `domain`. A mapped IP that belonged to another domain moves here
   * (the client re-used it); existing records stay until a new resolution replaces them, so live flows and new flows
   * keep working while the gateway re-queries.
   */
  assign(resourceId: string, domain: string, proxyIps: readonly IpBytes[]): DomainMapping {
    let mapping = this.domains.get(domain);
    if (mapping) {
      for (const ip of mapping.proxyIps) this.proxies.delete(addressKey(ip));
      mapping.resourceId = resourceId;
    } else {
      mapping = { domain, resourceId, proxyIps: [], records: undefined, validUntil: -Infinity };
      this.domains.set(domain, mapping);
    }
    mapping.proxyIps = dedupe(proxyIps);
    const perFamily = { 4: 0, 16: 0 };
    for (const ip of mapping.proxyIps) {
      const key = addressKey(ip);
      const previous = this.proxies.get(key);
      if (previous && previous.mapping !== mapping) this.detach(previous.mapping, ip);
      const family = ip.length === 4 ? 4 : 16;
      this.proxies.set(key, { mapping, index: perFamily[family]++ });
    }
    return mapping;
  }

  /** Stores a successful resolution. */
  setRecords(domain: string, records: DomainRecords, validUntil: number): void {
    const mapping = this.domains.get(domain);
    if (!mapping) return;
    mapping.records = records;
    mapping.validUntil = validUntil;
  }

  /** Where a new flow to this mapped IP goes; undefined when the client never assigned it. */
  target(proxyIp: IpBytes, now: number): ProxyTarget | undefined {
    const slot = this.proxies.get(addressKey(proxyIp));
    if (!slot) return undefined;
    const { mapping, index } = slot;
    if (!mapping.records || mapping.validUntil <= now) return { kind: 'stale', mapping };
    const same = proxyIp.length === 4 ? mapping.records.v4 : mapping.records.v6;
    const other = proxyIp.length === 4 ? mapping.records.v6 : mapping.records.v4;
    const pool = same.length > 0 ? same : other;
    if (pool.length === 0) return { kind: 'unresolved', mapping };
    return { kind: 'real', mapping, address: pool[index % pool.length]! };
  }

  /** Drops a domain's mapping; returns it when there was one. */
  remove(domain: string): DomainMapping | undefined {
    const mapping = this.domains.get(domain);
    if (!mapping) return undefined;
    this.domains.delete(domain);
    for (const ip of mapping.proxyIps) {
      if (this.proxies.get(addressKey(ip))?.mapping === mapping) this.proxies.delete(addressKey(ip));
    }
    return mapping;
  }

  /** Drops every mapping `predicate` selects. */
  removeWhere(predicate: (mapping: DomainMapping) => boolean): DomainMapping[] {
    const removed: DomainMapping[] = [];
    for (const mapping of [...this.domains.values()])
      if (predicate(mapping)) removed.push(this.remove(mapping.domain)!);
    return removed;
  }

  private detach(mapping: DomainMapping, ip: IpBytes): void {
    const key = addressKey(ip);
    mapping.proxyIps = mapping.proxyIps.filter((p) => addressKey(p) !== key);
    if (mapping.proxyIps.length === 0) {
      this.domains.delete(mapping.domain);
      return;
    }
    // Re-number the rest so the cycling stays dense.
    const perFamily = { 4: 0, 16: 0 };
    for (const p of mapping.proxyIps) {
      const family = p.length === 4 ? 4 : 16;
      const k = addressKey(p);
      if (k !== key) this.proxies.set(k, { mapping, index: perFamily[family]++ });
    }
  }
}

function dedupe(ips: readonly IpBytes[]): IpBytes[] {
  const seen = new Set<AddressKey>();
  return ips.filter((ip) => {
    const key = addressKey(ip);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
