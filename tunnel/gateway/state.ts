import type { GatewayToPortal, PortalToGateway } from '../../protocol/portal-gateway.js';
import type { Resource, TunnelAddresses } from '../../protocol/resources.js';
import {
  CONTROL_COPIES,
  CONTROL_PORT,
  ClientToGateway,
  encodeTunnelControl,
  type AssignedIps,
  type GatewayToClient,
} from '../../protocol/tunnel-control.js';
import {
  IpProtocol,
  Icmpv4Type,
  Icmpv6Type,
  Packet,
  addressKey,
  addressToString as formatIp,
  buildIcmpError,
  buildUdp,
  ipv4Key,
  parseAddress,
  setDstPort,
  setDstV4,
  setDstV6,
  setIcmpId,
  setSrcPort,
  setSrcV4,
  setSrcV6,
} from '../packet/index.js';
import type { AccessLogEntry } from './access-log.js';
import { isForwardableDestination, sameIp, type IpBytes } from './destinations.js';
import { AuthorizationTable, type AuthorizeOutcome, type PeerChange } from './authorizations.js';
import { ClientSession, type OutboundFlow } from './client-session.js';
import { normalizeName, domainMatches } from '../dns/index.js';
import { translateToIpv4, translateToIpv6 } from './nat64.js';
import type { NatEntry, NatTable } from './nat-table.js';
import {
  DEFAULT_RESOLUTION_LIMITS,
  ResolutionScheduler,
  type ResolveAnswer,
  type ResolveRequest,
  type ResolutionLimits,
} from './resolutions.js';

/**
 * The gateway's data and control plane, sans-IO (DESIGN.md "Gateway behaviour"). The daemon feeds it portal messages,
 * decrypted packets from clients (`handleClientPacket`), packets read from its TUN (`handleNetworkPacket`) and
 * resolver answers, and drains what to send, what to resolve and what happened.
 *
 * Forwarding design. The gateway translates destinations only: a packet to a mapped IP leaves with the real IP as
 * destination (in the other family for NAT64/NAT46) and the client's tunnel address as source, and is written into
 * the TUN. The kernel routes it out of the uplink, where an nftables `masquerade` rule gives it the uplink's address
 * (one static egress IP for allowlists) and conntrack remembers the flow; replies are de-masqueraded by conntrack,
 * routed back into the TUN (the tunnel ranges route there) and translated back here. Doing the source NAT in the
 * kernel keeps this table small (destination translation only), lets the kernel pick egress ports and handle
 * ICMP-related traffic for the uplink, and keeps the gateway's own traffic, routing policy and firewall the
 * operator's. Because the kernel sees (client tunnel address, port, real IP, port), the NAT table keeps that tuple
 * unique per client, rewriting the client's port only on a collision (see nat-table.ts).
 *
 * Isolation: a packet from a client must carry that client's tunnel address as source; a reply from the network is
 * delivered only to the client whose tunnel address it is addressed to, and only if that client's NAT table has the
 * flow. Destinations are only real IPs resolved for the client's authorized DNS resources or addresses inside its
 * authorized CIDR resources, and never tunnel, loopback, multicast or link-local addresses.
 *
 * Buffers passed to `handle…Packet` belong to the state from then on (rewritten in place and sent on).
 */

export interface GatewayConfig {
  /** Shortest time a resolution is used without a re-query, whatever its TTL (dns-firewall's --min-rule-time). */
  minRuleTimeMs: number;
  /** Longest time a resolution is used without a re-query, whatever its TTL (dns-firewall's --max-rule-time). */
  maxRuleTimeMs: number;
  resolution: ResolutionLimits;
  maxNatEntriesPerClient: number;
  maxDomainsPerClient: number;
  maxPendingResolutionsPerClient: number;
  maxBufferedPacketsPerClient: number;
}

export const DEFAULT_GATEWAY_CONFIG: GatewayConfig = {
  minRuleTimeMs: 5_000,
  maxRuleTimeMs: 86_400_000,
  resolution: DEFAULT_RESOLUTION_LIMITS,
  maxNatEntriesPerClient: 16_384,
  maxDomainsPerClient: 4_096,
  maxPendingResolutionsPerClient: 64,
  maxBufferedPacketsPerClient: 64,
};

export type GatewayEvent =
  | PeerChange
  | { type: 'to_portal'; message: GatewayToPortal }
  | { type: 'access'; entry: AccessLogEntry }
  /** The portal sent an error frame, or a message the gateway could not act on. */
  | { type: 'portal_problem'; message: string };

export type GatewayTransmit =
  /** An IP packet for the client's WireGuard session (the daemon encrypts it). */
  | { to: 'client'; clientId: string; packet: Uint8Array }
  /** An IP packet for the TUN (the kernel routes and masquerades it). */
  | { to: 'network'; packet: Uint8Array };

export const DROP_REASONS = [
  /** Not an IP packet this gateway can read. */
  'malformed',
  /** IP fragments are not reassembled (the tunnel MTU keeps clients from sending them). */
  'fragment',
  /** From a client, with a source other than its tunnel address. */
  'spoofed_source',
  /** From a client the table does not hold (authorization ended). */
  'unknown_client',
  /** To a destination no authorization of the client covers. */
  'not_authorized',
  /** Refused by a resource's filters (answered with ICMP administratively prohibited). */
  'prohibited',
  /** To a mapped IP whose domain has no records. */
  'unresolved',
  /** To a destination never allowed (tunnel ranges, loopback, multicast, link-local). */
  'forbidden_destination',
  'nat_table_full',
  /** A protocol or ICMP message the NAT does not carry. */
  'unsupported',
  /** To the gateway's own tunnel address, but not a control message. */
  'to_gateway',
  /** A control message that is not valid JSON of `protocol/tunnel-control.ts`. */
  'control_malformed',
  /** A client with too many resolutions or buffered packets outstanding. */
  'client_limit',
  /** From the network, to no client's tunnel address. */
  'no_client',
  /** From the network, matching no flow of the client (unsolicited). */
  'no_flow',
  /** NAT64/NAT46 could not translate it (RFC 7915 drops). */
  'untranslatable',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface GatewayStats {
  clients: number;
  natEntries: number;
  domains: number;
  flowsCreated: number;
  controlMessages: number;
  /** `nat_missing` messages sent to clients. */
  natMissingSent: number;
  bytesFromClients: number;
  bytesToClients: number;
  bytesToNetwork: number;
  bytesFromNetwork: number;
  drops: Record<DropReason, number>;
}

interface Waiter {
  clientId: string;
  requestId: number;
  /** Normalized (lower case, no trailing dot). */
  domain: string;
  /** Where to send `domain_status`, echoing the request's resource and domain as the client wrote them; undefined
   * for a re-query the gateway started itself. */
  reply: Reply | undefined;
}

interface Reply {
  family: 4 | 6;
  port: number;
  resourceId: string;
  domain: string;
}

/** How often idle NAT entries are swept (lookups also ignore expired entries, so this only frees memory). */
const SWEEP_INTERVAL_MS = 1_000;
const MAX_CONTROL_BYTES = 4_096;

export class GatewayState {
  private readonly config: GatewayConfig;
  private readonly auth = new AuthorizationTable();
  private readonly sessions = new Map<string, ClientSession>();
  private readonly resolver: ResolutionScheduler<Waiter>;
  private readonly transmits: GatewayTransmit[] = [];
  private readonly events: GatewayEvent[] = [];
  private readonly view = new Packet();
  private readonly translatedView = new Packet();
  private tunnelV4: IpBytes | undefined;
  private tunnelV6: IpBytes | undefined;
  private nextSweep: number | undefined;
  private requestCounter = 0;
  private ipId = 0;
  private readonly counters: Omit<GatewayStats, 'clients' | 'natEntries' | 'domains' | 'drops'> = {
    flowsCreated: 0,
    controlMessages: 0,
    natMissingSent: 0,
    bytesFromClients: 0,
    bytesToClients: 0,
    bytesToNetwork: 0,
    bytesFromNetwork: 0,
  };
  private readonly drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;

  constructor(config: Partial<GatewayConfig> = {}) {
    this.config = { ...DEFAULT_GATEWAY_CONFIG, ...config };
    this.resolver = new ResolutionScheduler(this.config.resolution);
  }

  // ---- portal -------------------------------------------------------------------------------------------------

  /** A validated message from the portal. `authorize_client` is answered with `client_authorized` (a `to_portal`
   * event) right after its `peer_upserted` event, so the daemon installs the peer before telling the portal. */
  handlePortalMessage(message: PortalToGateway, now: number): void {
    switch (message.type) {
      case 'init':
        this.setTunnelAddresses(message.gateway.tunnel);
        return;
      case 'authorize_client': {
        const outcome = this.authorize(message, now);
        if (outcome.ok)
          this.events.push({ type: 'to_portal', message: { type: 'client_authorized', ref: message.ref } });
        else
          this.events.push({ type: 'portal_problem', message: `authorize_client ${message.ref}: ${outcome.reason}` });
        return;
      }
      case 'revoke_authorization':
        this.revoke(message.clientId, message.resourceId, now);
        return;
      case 'resource_updated':
        this.updateResource(message.resource, now);
        return;
      case 'error':
        this.events.push({ type: 'portal_problem', message: `${message.code}: ${message.message}` });
        return;
    }
  }

  private setTunnelAddresses(tunnel: TunnelAddresses): void {
    this.tunnelV4 = parseAddress(tunnel.ipv4);
    this.tunnelV6 = parseAddress(tunnel.ipv6);
  }

  private authorize(message: Extract<PortalToGateway, { type: 'authorize_client' }>, now: number): AuthorizeOutcome {
    const outcome = this.auth.authorize(message, now);
    if (!outcome.ok) return outcome;
    if (outcome.replacedPeer) this.events.push(outcome.replacedPeer);
    if (outcome.peer?.type === 'peer_upserted') {
      const client = outcome.peer.client;
      const session = this.sessions.get(client.id);
      const sameAddresses =
        session && sameIp(session.client.ipv4, client.ipv4) && sameIp(session.client.ipv6, client.ipv6);
      if (session && sameAddresses) {
        session.client = client;
      } else {
        // New client, or its tunnel addresses changed: flows and mappings of the old addresses mean nothing now.
        this.resolver.forgetWaiters((w) => w.clientId === client.id);
        this.sessions.set(client.id, new ClientSession(client, this.config.maxNatEntriesPerClient));
      }
      this.events.push(outcome.peer);
    }
    // A renewed authorization for a resource whose definition changed meanwhile re-checks live flows too.
    this.sessions.get(message.client.id)?.recheck(now);
    return outcome;
  }

  private revoke(clientId: string, resourceId: string | undefined, now: number): void {
    const { peer } = this.auth.revoke(clientId, resourceId);
    if (peer) this.endClient(peer);
    else this.sessions.get(clientId)?.recheck(now);
  }

  private updateResource(resource: Resource, now: number): void {
    for (const client of this.auth.updateResource(resource)) this.sessions.get(client.id)?.recheck(now);
  }

  private endClient(peer: PeerChange): void {
    if (peer.type !== 'peer_removed') return;
    this.sessions.delete(peer.clientId);
    this.resolver.forgetWaiters((w) => w.clientId === peer.clientId);
    this.events.push(peer);
  }

  // ---- packets from clients -----------------------------------------------------------------------------------

  /** A packet WireGuard decrypted from `clientId`'s session. */
  handleClientPacket(clientId: string, packet: Uint8Array, now: number): void {
    this.expireAuthorizations(now);
    this.counters.bytesFromClients += packet.length;
    const session = this.sessions.get(clientId);
    if (!session) return this.drop('unknown_client');
    this.outbound(session, packet, now);
  }

  private outbound(session: ClientSession, packet: Uint8Array, now: number): void {
    const p = this.view;
    if (p.parse(packet) !== undefined) return this.drop('malformed');
    const client = session.client;
    if (!sameIpAt(packet, p.srcOffset, p.version === 4 ? client.ipv4 : client.ipv6)) return this.drop('spoofed_source');
    const gatewayAddr = p.version === 4 ? this.tunnelV4 : this.tunnelV6;
    if (gatewayAddr && sameIpAt(packet, p.dstOffset, gatewayAddr)) {
      if (p.protocol === IpProtocol.Udp && !p.isFragment && p.dstPort === CONTROL_PORT) {
        return this.handleControl(session, p, now);
      }
      return this.drop('to_gateway');
    }
    if (p.isFragment) return this.drop('fragment');
    const flow = outboundFlow(p);
    if (!flow) return this.drop('unsupported');

    const decision = session.outbound(flow, now);
    switch (decision.action) {
      case 'forward':
        return this.forward(session, p, decision.entry, decision.created, now);
      case 'prohibited':
        this.flowBlocked(session, flow, 'prohibited');
        this.drop('prohibited');
        return this.replyIcmpError(session, p, flow.dst);
      case 'await_resolution':
        return this.awaitResolution(session, decision.mapping.domain, packet, now);
      case 'no_mapping':
        this.flowBlocked(session, flow, 'not authorized');
        this.drop('not_authorized');
        return this.reportMissingNat(session, flow.dst, now);
      case 'drop':
        this.flowBlocked(session, flow, decision.reason.replace(/_/g, ' '));
        return this.drop(decision.reason);
    }
  }

  private forward(session: ClientSession, p: Packet, entry: NatEntry, created: boolean, now: number): void {
    const tcpFlags = entry.protocol === 'tcp' ? p.tcpFlags : 0;
    const bytes = p.length;
    let out: Uint8Array;
    if (entry.outsideDst.length === p.addressLength) {
      if (!sameIpAt(p.buffer, p.dstOffset, entry.outsideDst)) setDst(p, entry.outsideDst);
      if (entry.gatewayPort !== entry.clientPort) setSourcePort(p, entry.protocol === 'icmp', entry.gatewayPort);
      out = p.buffer.subarray(p.ipOffset, p.end);
    } else {
      const src = entry.outsideDst.length === 4 ? session.client.ipv4 : session.client.ipv6;
      const translated =
        p.version === 4
          ? translateToIpv6(p, { src, dst: entry.outsideDst })
          : translateToIpv4(p, { src, dst: entry.outsideDst }, this.nextIpId());
      if (!translated) {
        if (created) session.nat.remove(entry);
        return this.drop('untranslatable');
      }
      if (entry.gatewayPort !== entry.clientPort) {
        this.translatedView.parse(translated);
        setSourcePort(this.translatedView, entry.protocol === 'icmp', entry.gatewayPort);
      }
      out = translated;
    }
    if (created) {
      this.counters.flowsCreated++;
      this.scheduleSweep(now);
      this.access({
        kind: 'flow',
        client: formatIp(session.client.ipv4),
        protocol: entry.protocol,
        dst: formatIp(entry.insideDst),
        dstPort: entry.dstPort,
        real: formatIp(entry.outsideDst),
        domain: entry.domain,
      });
    }
    session.nat.noteOutbound(entry, bytes, tcpFlags, now);
    this.counters.bytesToNetwork += out.length;
    this.transmits.push({ to: 'network', packet: out });
  }

  /** ICMP administratively prohibited back to the client, from the address it tried to reach. */
  private replyIcmpError(session: ClientSession, p: Packet, from: IpBytes): void {
    const error = buildIcmpError(p, { src: from, kind: 'admin-prohibited' });
    if (typeof error === 'string') return;
    this.toClient(session.client.id, error);
  }

  private awaitResolution(session: ClientSession, domain: string, packet: Uint8Array, now: number): void {
    if (session.buffered.length >= this.config.maxBufferedPacketsPerClient) return this.drop('client_limit');
    // A copy: the caller's buffer may be reused once this call returns.
    session.buffered.push({ domain, packet: Uint8Array.from(packet) });
    if (session.resolving.has(domain)) return;
    if (
      !this.startResolution(
        session,
        { clientId: session.client.id, requestId: ++this.requestCounter, domain, reply: undefined },
        now,
      )
    ) {
      session.buffered = session.buffered.filter((b) => b.domain !== domain);
      this.drop('client_limit');
    }
  }

  // ---- control messages (inside the tunnel) -------------------------------------------------------------------

  private handleControl(session: ClientSession, p: Packet, now: number): void {
    this.counters.controlMessages++;
    const payload = p.buffer.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength);
    const message = payload.length <= MAX_CONTROL_BYTES ? parseControl(payload) : undefined;
    if (!message) {
      this.access({ kind: 'malformed', client: formatIp(session.client.ipv4), reason: 'malformed control message' });
      return this.drop('control_malformed');
    }
    const reply = { family: p.version, port: p.srcPort, resourceId: message.resourceId, domain: message.domain };
    this.handleAssignedIps(session, message, reply, now);
  }

  private handleAssignedIps(session: ClientSession, message: AssignedIps, reply: Reply, now: number): void {
    const requestId = ++this.requestCounter;
    const client = formatIp(session.client.ipv4);
    const normalized = normalizeName(message.domain);
    const domain = normalized.ok && normalized.value !== '.' ? normalized.value : undefined;
    const refuse = (reason: string) => {
      this.access({ kind: 'refused', client, requestId, domain: message.domain, reason });
      this.sendStatus(session, reply, 'inactive');
    };
    if (!domain) return refuse('not a domain name');
    const resource = session.client.authorizations.get(message.resourceId)?.resource;
    if (resource?.type !== 'dns' || !domainMatches(resource.address, domain)) return refuse('not authorized');
    if (!session.dns.get(domain) && session.dns.size >= this.config.maxDomainsPerClient) {
      return refuse('too many domains');
    }
    if (session.pendingResolutions >= this.config.maxPendingResolutionsPerClient) {
      // Not an answer: the client retries (seed 003) once earlier resolutions finished.
      return this.drop('client_limit');
    }
    session.dns.assign(
      resource.id,
      domain,
      message.proxyIps.map((ip) => parseAddress(ip)!),
    );
    this.access({ kind: 'resolve', client, requestId, domain });
    if (!this.startResolution(session, { clientId: session.client.id, requestId, domain, reply }, now)) {
      refuse('resolver busy');
    }
  }

  private startResolution(session: ClientSession, waiter: Waiter, now: number): boolean {
    if (session.pendingResolutions >= this.config.maxPendingResolutionsPerClient) return false;
    if (!this.resolver.request(waiter.domain, waiter, now)) return false;
    session.pendingResolutions++;
    session.resolving.add(waiter.domain);
    return true;
  }

  private sendStatus(session: ClientSession, reply: Reply, status: 'active' | 'inactive'): void {
    const message = { type: 'domain_status', resourceId: reply.resourceId, domain: reply.domain, status } as const;
    for (let i = 0; i < CONTROL_COPIES; i++) this.sendControl(session, message, reply.family, reply.port);
  }

  /**
   * Seed 001's fallback for a gateway that lost a client's DNS-resource NAT (restarted, or dropped the mapping) while
   * the client still thinks it is set up: tell the client, which sets it up again, rather than black-holing its
   * packets until the application happens to resolve the name again. Only for clients with a DNS resource here, at
   * most once a second per address. Addresses the client did not assign are ignored by the client; the gateway
   * cannot tell them apart itself, as the mapped ranges are the client's (its portal account's) choice.
   */
  private reportMissingNat(session: ClientSession, proxyIp: IpBytes, now: number): void {
    if (!session.hasDnsResource() || !session.natMissingReports.allow(addressKey(proxyIp), now)) return;
    this.counters.natMissingSent++;
    this.sendControl(session, { type: 'nat_missing', proxyIp: formatIp(proxyIp) }, 4, CONTROL_PORT);
  }

  /** A control message from the gateway's tunnel address and CONTROL_PORT to the client's `port`. */
  private sendControl(session: ClientSession, message: GatewayToClient, family: 4 | 6, port: number): void {
    const src = family === 4 ? this.tunnelV4 : this.tunnelV6;
    if (!src) return;
    const packet = buildUdp({
      src,
      dst: family === 4 ? session.client.ipv4 : session.client.ipv6,
      srcPort: CONTROL_PORT,
      dstPort: port,
      payload: encodeTunnelControl(message),
    });
    this.toClient(session.client.id, packet);
  }

  // ---- resolution ---------------------------------------------------------------------------------------------

  /** What the daemon should resolve next (A and AAAA of a domain come as two requests). */
  pollResolveRequest(): ResolveRequest | undefined {
    return this.resolver.pollRequest();
  }

  handleResolveAnswer(id: number, answer: ResolveAnswer, now: number): void {
    this.resolver.handleAnswer(id, answer, now);
    this.processResolutions(now);
  }

  private processResolutions(now: number): void {
    for (let done = this.resolver.pollCompleted(); done; done = this.resolver.pollCompleted()) {
      const v4 = usableRecords(done.a, 4);
      const v6 = usableRecords(done.aaaa, 16);
      const ttls = [done.a, done.aaaa].flatMap((a) => (a.ok ? a.records.map((r) => r.ttl) : []));
      const ttl = ttls.length > 0 ? Math.min(...ttls) : 0;
      const errors = [done.a, done.aaaa].flatMap((a) => (a.ok ? [] : [a.error]));
      // Copies of one `assigned_ips` (CONTROL_COPIES) joined this resolution as separate waiters: one answer each.
      const answered = new Set<string>();
      for (const waiter of done.waiters) {
        const session = this.sessions.get(waiter.clientId);
        if (!session) continue;
        session.pendingResolutions = Math.max(0, session.pendingResolutions - 1);
        session.resolving.delete(waiter.domain);
        const active = this.applyResolution(session, waiter, { v4, v6 }, ttl, errors, now);
        const { reply } = waiter;
        const replyKey =
          reply && `${waiter.clientId}|${reply.family}|${reply.port}|${reply.resourceId}|${reply.domain}`;
        if (reply && replyKey && !answered.has(replyKey)) {
          answered.add(replyKey);
          this.sendStatus(session, reply, active ? 'active' : 'inactive');
        }
        this.replayBuffered(session, waiter.domain, now);
      }
    }
  }

  /** Stores a resolution in the client's mapping; whether the mapping is usable (Active). */
  private applyResolution(
    session: ClientSession,
    waiter: Waiter,
    records: { v4: IpBytes[]; v6: IpBytes[] },
    ttl: number,
    errors: string[],
    now: number,
  ): boolean {
    const client = formatIp(session.client.ipv4);
    const { requestId, domain } = waiter;
    const mapping = session.dns.get(domain);
    const resource = mapping && session.client.authorizations.get(mapping.resourceId)?.resource;
    if (!mapping || resource?.type !== 'dns' || !domainMatches(resource.address, domain)) {
      session.dns.remove(domain);
      this.access({ kind: 'refused', client, requestId, domain, reason: 'not authorized' });
      return false;
    }
    if (records.v4.length + records.v6.length > 0) {
      const ruleMs = Math.min(Math.max(ttl * 1000, this.config.minRuleTimeMs), this.config.maxRuleTimeMs);
      session.dns.setRecords(domain, records, now + ruleMs);
      const addresses = [...records.v4, ...records.v6].map((a) => formatIp(a));
      this.access({ kind: 'resolved', client, requestId, domain, addresses, ttl: Math.round(ruleMs / 1000) });
      return true;
    }
    const error = errors.length > 0 ? errors.join(', ') : 'no records';
    if (mapping.records && mapping.records.v4.length + mapping.records.v6.length > 0) {
      // A failed re-query keeps the last good answer a while (RFC 8767's serve-stale) instead of cutting the client off.
      mapping.validUntil = now + this.config.minRuleTimeMs;
      this.access({ kind: 'resolve_failed', client, requestId, domain, error: `${error}; keeping the last answer` });
      return true;
    }
    session.dns.remove(domain);
    this.access({ kind: 'resolve_failed', client, requestId, domain, error });
    return false;
  }

  private replayBuffered(session: ClientSession, domain: string, now: number): void {
    const replay = session.buffered.filter((b) => b.domain === domain);
    if (replay.length === 0) return;
    session.buffered = session.buffered.filter((b) => b.domain !== domain);
    for (const { packet } of replay) {
      // Still waiting (the answer did not make the mapping usable) would loop: drop instead.
      const mapping = session.dns.get(domain);
      if (!mapping || mapping.validUntil <= now) {
        this.drop('unresolved');
        continue;
      }
      this.outbound(session, packet, now);
    }
  }

  // ---- packets from the network -------------------------------------------------------------------------------

  /** A packet read from the TUN: a reply (or an ICMP error about a packet) of some client's flow. */
  handleNetworkPacket(packet: Uint8Array, now: number): void {
    this.expireAuthorizations(now);
    this.counters.bytesFromNetwork += packet.length;
    const p = this.view;
    if (p.parse(packet) !== undefined) return this.drop('malformed');
    const client = this.auth.byTunnelAddress(p.dstAddress());
    const session = client && this.sessions.get(client.id);
    if (!session) return this.drop('no_client');
    if (p.isFragment) return this.drop('fragment');
    if (p.isIcmpError) return this.inboundIcmpError(session, p, now);

    const entry = flowOf(session.nat, p, 'reply', now);
    if (!entry) return this.drop('no_flow');

    const tcpFlags = entry.protocol === 'tcp' ? p.tcpFlags : 0;
    const bytes = p.length;
    let out: Uint8Array;
    if (entry.insideDst.length === p.addressLength) {
      setSrc(p, entry.insideDst);
      if (entry.gatewayPort !== entry.clientPort) setDestinationPort(p, entry.protocol === 'icmp', entry.clientPort);
      out = p.buffer.subarray(p.ipOffset, p.end);
    } else {
      const dst = entry.insideDst.length === 4 ? session.client.ipv4 : session.client.ipv6;
      const translated =
        p.version === 4
          ? translateToIpv6(p, { src: entry.insideDst, dst })
          : translateToIpv4(p, { src: entry.insideDst, dst }, this.nextIpId());
      if (!translated) return this.drop('untranslatable');
      if (entry.gatewayPort !== entry.clientPort) {
        this.translatedView.parse(translated);
        setDestinationPort(this.translatedView, entry.protocol === 'icmp', entry.clientPort);
      }
      out = translated;
    }
    session.nat.noteInbound(entry, bytes, tcpFlags, now);
    this.toClient(session.client.id, out);
  }

  /** An ICMP error about a packet of a flow: the original it carries goes back to mapped address and client port. */
  private inboundIcmpError(session: ClientSession, p: Packet, now: number): void {
    const original = p.embedded();
    if (typeof original === 'string') return this.drop('malformed');
    const client = session.client;
    if (!sameIpAt(original.buffer, original.srcOffset, original.version === 4 ? client.ipv4 : client.ipv6)) {
      return this.drop('no_flow');
    }
    const entry = flowOf(session.nat, original, 'original', now);
    if (!entry) return this.drop('no_flow');

    let out: Uint8Array;
    if (entry.insideDst.length === p.addressLength) {
      if (entry.gatewayPort !== entry.clientPort) setSourcePort(original, entry.protocol === 'icmp', entry.clientPort);
      setDst(original, entry.insideDst);
      setSrc(p, entry.insideDst);
      out = p.buffer.subarray(p.ipOffset, p.end);
    } else {
      const clientAddr = entry.insideDst.length === 4 ? client.ipv4 : client.ipv6;
      const outer = { src: entry.insideDst, dst: clientAddr };
      const inner = { src: clientAddr, dst: entry.insideDst };
      const translated =
        p.version === 4 ? translateToIpv6(p, outer, inner) : translateToIpv4(p, outer, this.nextIpId(), inner);
      if (!translated) return this.drop('untranslatable');
      if (entry.gatewayPort !== entry.clientPort) {
        this.translatedView.parse(translated);
        const carried = this.translatedView.embedded();
        if (typeof carried !== 'string') setSourcePort(carried, entry.protocol === 'icmp', entry.clientPort);
      }
      out = translated;
    }
    this.toClient(client.id, out);
  }

  // ---- time ---------------------------------------------------------------------------------------------------

  pollTimeout(): number | undefined {
    const candidates = [this.auth.nextExpiry(), this.resolver.pollTimeout(), this.nextSweep].filter(
      (t): t is number => t !== undefined,
    );
    return candidates.length > 0 ? Math.min(...candidates) : undefined;
  }

  handleTimeout(now: number): void {
    this.expireAuthorizations(now);
    this.resolver.handleTimeout(now);
    this.processResolutions(now);
    if (this.nextSweep !== undefined && now >= this.nextSweep) {
      let remaining = 0;
      for (const session of this.sessions.values()) {
        session.nat.sweep(now);
        remaining += session.nat.size;
      }
      this.nextSweep = remaining > 0 ? now + SWEEP_INTERVAL_MS : undefined;
    }
  }

  private expireAuthorizations(now: number): void {
    const next = this.auth.nextExpiry();
    if (next === undefined || next > now) return;
    const { ended, peers } = this.auth.expire(now);
    for (const peer of peers) this.endClient(peer);
    for (const clientId of new Set(ended.map((e) => e.clientId))) this.sessions.get(clientId)?.recheck(now);
  }

  private scheduleSweep(now: number): void {
    this.nextSweep ??= now + SWEEP_INTERVAL_MS;
  }

  // ---- output -------------------------------------------------------------------------------------------------

  pollTransmit(): GatewayTransmit | undefined {
    return this.transmits.shift();
  }

  pollEvent(): GatewayEvent | undefined {
    return this.events.shift();
  }

  stats(): GatewayStats {
    let natEntries = 0;
    let domains = 0;
    for (const session of this.sessions.values()) {
      natEntries += session.nat.size;
      domains += session.dns.size;
    }
    return { clients: this.sessions.size, natEntries, domains, ...this.counters, drops: { ...this.drops } };
  }

  private toClient(clientId: string, packet: Uint8Array): void {
    this.counters.bytesToClients += packet.length;
    this.transmits.push({ to: 'client', clientId, packet });
  }

  private drop(reason: DropReason): void {
    this.drops[reason]++;
  }

  private access(entry: AccessLogEntry): void {
    this.events.push({ type: 'access', entry });
  }

  private flowBlocked(session: ClientSession, flow: OutboundFlow, reason: string): void {
    this.access({
      kind: 'flow_blocked',
      client: formatIp(session.client.ipv4),
      protocol: flow.protocol,
      dst: formatIp(flow.dst),
      dstPort: flow.dstPort,
      reason,
    });
  }

  private nextIpId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }
}

function parseControl(payload: Uint8Array): AssignedIps | undefined {
  try {
    const json: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    const parsed = ClientToGateway.safeParse(json);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** What the policy and NAT need of a packet from a client; undefined for what the NAT does not carry. */
function outboundFlow(p: Packet): OutboundFlow | undefined {
  if ((p.protocol === IpProtocol.Tcp || p.protocol === IpProtocol.Udp) && p.hasTransportHeader) {
    const protocol = p.protocol === IpProtocol.Tcp ? 'tcp' : 'udp';
    return { protocol, srcPort: p.srcPort, dst: p.dstAddress(), dstPort: p.dstPort };
  }
  if (isEchoRequest(p)) return { protocol: 'icmp', srcPort: p.icmpId, dst: p.dstAddress(), dstPort: 0 };
  return undefined;
}

/**
 * The flow a packet from the network belongs to: a `reply` travels real destination → gateway port; the `original`
 * inside an ICMP error is the gateway's own outbound packet, gateway port → real destination.
 */
function flowOf(nat: NatTable, p: Packet, kind: 'reply' | 'original', now: number): NatEntry | undefined {
  const reply = kind === 'reply';
  const real = reply ? p.srcAddress() : p.dstAddress();
  if (p.protocol === IpProtocol.Tcp || p.protocol === IpProtocol.Udp) {
    const protocol = p.protocol === IpProtocol.Tcp ? 'tcp' : 'udp';
    return reply
      ? nat.inbound(protocol, p.dstPort, real, p.srcPort, now)
      : nat.inbound(protocol, p.srcPort, real, p.dstPort, now);
  }
  if (reply ? isEchoReply(p) : isEchoRequest(p)) return nat.inbound('icmp', p.icmpId, real, 0, now);
  return undefined;
}

function isEchoRequest(p: Packet): boolean {
  if (!p.isIcmpEcho) return false;
  return p.icmpType === (p.version === 4 ? Icmpv4Type.EchoRequest : Icmpv6Type.EchoRequest);
}

function isEchoReply(p: Packet): boolean {
  if (!p.isIcmpEcho) return false;
  return p.icmpType === (p.version === 4 ? Icmpv4Type.EchoReply : Icmpv6Type.EchoReply);
}

/** Records of the family an answer asked for, without addresses the gateway never forwards to. */
function usableRecords(answer: ResolveAnswer, length: 4 | 16): IpBytes[] {
  if (!answer.ok) return [];
  const out: IpBytes[] = [];
  for (const record of answer.records) {
    const ip = parseAddress(record.address);
    if (ip?.length === length && isForwardableDestination(ip)) out.push(ip);
  }
  return out;
}

function sameIpAt(buf: Uint8Array, offset: number, addr: IpBytes): boolean {
  return sameIp(buf.subarray(offset, offset + addr.length), addr);
}

function setDst(p: Packet, addr: IpBytes): void {
  if (addr.length === 4) setDstV4(p, ipv4Key(addr));
  else setDstV6(p, addr);
}

function setSrc(p: Packet, addr: IpBytes): void {
  if (addr.length === 4) setSrcV4(p, ipv4Key(addr));
  else setSrcV6(p, addr);
}

function setSourcePort(p: Packet, icmp: boolean, port: number): void {
  if (icmp) setIcmpId(p, port);
  else setSrcPort(p, port);
}

function setDestinationPort(p: Packet, icmp: boolean, port: number): void {
  if (icmp) setIcmpId(p, port);
  else setDstPort(p, port);
}
