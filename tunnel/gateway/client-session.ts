import { domainMatches } from '../dns/index.js';
import type { Resource } from '../../protocol/resources.js';
import { isForwardableDestination, rangeContains, resourceRange, type IpBytes } from './destinations.js';
import type { AuthorizedClient } from './authorizations.js';
import { DnsMappings, type DomainMapping } from './dns-mappings.js';
import { filtersAllow } from './filters.js';
import { NatTable, type NatEntry, type NatProtocol } from './nat-table.js';
import { ReportThrottle } from './report-throttle.js';

/**
 * Everything the gateway keeps for one authorized client beside the authorization itself: its NAT table and its DNS
 * mappings, and the policy that decides a new flow (DESIGN.md "Gateway behaviour" 3 and 5). Nothing here is shared
 * between clients, so one client can neither see nor disturb another's flows.
 */

/** A packet from the client, reduced to what the policy and the NAT need. */
export interface OutboundFlow {
  protocol: NatProtocol;
  /** Source port, or the ICMP echo id. */
  srcPort: number;
  dst: IpBytes;
  /** Destination port; 0 for ICMP. */
  dstPort: number;
}

export type OutboundDecision =
  | { action: 'forward'; entry: NatEntry; created: boolean }
  /** An authorized destination, but its resource's filters do not allow this protocol/port. */
  | { action: 'prohibited'; resourceId: string; domain: string | undefined }
  /** A mapped IP whose domain is not (or no longer) resolved: hold the packet until a (re-)query answers. */
  | { action: 'await_resolution'; mapping: DomainMapping }
  /**
   * No mapping of the client's and no authorization covers the destination. For a client with DNS resources this is
   * most likely a mapped IP whose mapping the gateway lost (a restart): the packet is dropped and the client told.
   */
  | { action: 'no_mapping' }
  | { action: 'drop'; reason: 'not_authorized' | 'unresolved' | 'forbidden_destination' | 'nat_table_full' };

export class ClientSession {
  readonly nat: NatTable;
  readonly dns = new DnsMappings();
  /** Resolutions this client is waiting for (bounded, so one client cannot fill the resolver queue). */
  pendingResolutions = 0;
  /** Domains being (re-)resolved for this client, so a burst of new flows asks only once. */
  readonly resolving = new Set<string>();
  /** First packets of new flows to a domain being (re-)resolved; replayed when the answer arrives. */
  buffered: { domain: string; packet: Uint8Array }[] = [];
  /** `nat_missing` sent to this client: at most one a second per address, 256 addresses remembered. */
  readonly natMissingReports = new ReportThrottle(1_000, 256);

  constructor(
    public client: AuthorizedClient,
    maxNatEntries?: number,
  ) {
    this.nat = new NatTable(maxNatEntries);
  }

  /** Decides a packet from the client: an existing flow goes on; a new one is checked against the authorizations. */
  outbound(flow: OutboundFlow, now: number): OutboundDecision {
    const existing = this.nat.outbound(flow.protocol, flow.srcPort, flow.dst, flow.dstPort, now);
    if (existing) return { action: 'forward', entry: existing, created: false };

    const target = this.dns.target(flow.dst, now);
    if (target) {
      const resource = this.client.authorizations.get(target.mapping.resourceId)?.resource;
      if (resource?.type !== 'dns' || !domainMatches(resource.address, target.mapping.domain)) {
        return { action: 'drop', reason: 'not_authorized' };
      }
      if (!filtersAllow(resource.filters, flow.protocol, flow.dstPort)) {
        return { action: 'prohibited', resourceId: resource.id, domain: target.mapping.domain };
      }
      if (target.kind === 'stale') return { action: 'await_resolution', mapping: target.mapping };
      if (target.kind === 'unresolved') return { action: 'drop', reason: 'unresolved' };
      return this.create(flow, target.address, resource.id, target.mapping.domain, now);
    }

    const resources = this.cidrResourcesContaining(flow.dst);
    if (resources.length === 0) return { action: 'no_mapping' };
    const allowing = resources.find((r) => filtersAllow(r.filters, flow.protocol, flow.dstPort));
    if (!allowing) return { action: 'prohibited', resourceId: resources[0]!.id, domain: undefined };
    return this.create(flow, flow.dst, allowing.id, undefined, now);
  }

  /**
   * Drops what a changed or withdrawn authorization no longer covers: mappings of domains the resource no longer
   * matches, and flows whose resource is gone or whose filters now refuse them. Returns the flows it ended.
   */
  recheck(now: number): NatEntry[] {
    const auths = this.client.authorizations;
    this.dns.removeWhere((m) => {
      const resource = auths.get(m.resourceId)?.resource;
      return resource?.type !== 'dns' || !domainMatches(resource.address, m.domain);
    });
    return this.nat
      .removeWhere((entry) => {
        const resource = auths.get(entry.resourceId)?.resource;
        if (!resource || !filtersAllow(resource.filters, entry.protocol, entry.dstPort)) return true;
        if (resource.type === 'dns') return entry.domain === undefined || this.dns.get(entry.domain) === undefined;
        const range = resourceRange(resource);
        return !range || !rangeContains(range, entry.outsideDst);
      })
      .concat(this.nat.sweep(now));
  }

  private create(
    flow: OutboundFlow,
    outsideDst: IpBytes,
    resourceId: string,
    domain: string | undefined,
    now: number,
  ): OutboundDecision {
    if (!isForwardableDestination(outsideDst)) return { action: 'drop', reason: 'forbidden_destination' };
    const entry = this.nat.create(
      {
        protocol: flow.protocol,
        clientPort: flow.srcPort,
        insideDst: flow.dst,
        dstPort: flow.dstPort,
        outsideDst,
        resourceId,
        domain,
      },
      now,
    );
    if (!entry) return { action: 'drop', reason: 'nat_table_full' };
    return { action: 'forward', entry, created: true };
  }

  /** Whether the client may use some DNS resource here (so it may hold mapped IPs this gateway should know). */
  hasDnsResource(): boolean {
    for (const { resource } of this.client.authorizations.values()) if (resource.type === 'dns') return true;
    return false;
  }

  private cidrResourcesContaining(dst: IpBytes): Resource[] {
    const found: Resource[] = [];
    for (const { resource } of this.client.authorizations.values()) {
      const range = resourceRange(resource);
      if (range && rangeContains(range, dst)) found.push(resource);
    }
    return found;
  }
}
