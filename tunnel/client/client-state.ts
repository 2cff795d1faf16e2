import {
  answerNoData,
  answerRcode,
  inspectResponse,
  maxResponseSize,
  parseQuery,
  Rcode,
  sameQuestion,
  setMessageId,
  type DnsQuery,
} from '../dns/index.js';
import { buildIcmpError, buildTcp, buildUdp, IpProtocol, Packet, type IcmpErrorKind } from '../packet/index.js';
import { Device, type DeviceEvent, type Endpoint, type Rng, type TimerConfig } from '../wireguard/index.js';
import {
  cidr,
  cidrContains,
  DEFAULT_MAPPED_IPV4_RANGE,
  DEFAULT_MAPPED_IPV6_RANGE,
  formatCidr,
  formatIp,
  ip,
  ipToBytes,
  parseCidr,
  parseIp,
  readIpv4,
  readIpv6,
  SENTINEL_IPV4_RANGE,
  SENTINEL_IPV6_RANGE,
  type IpAddress,
  type Ipv4Cidr,
  type Ipv6Cidr,
} from '../../protocol/ip.js';
import type {
  AuthorizationCreated,
  ClientToPortal,
  GatewayInfo,
  MappedRanges,
  PortalToClient,
} from '../../protocol/portal-client.js';
import type { DnsResource, Resource } from '../../protocol/resources.js';
import {
  CONTROL_COPIES,
  CONTROL_PORT,
  decodeGatewayToClient,
  encodeTunnelControl,
} from '../../protocol/tunnel-control.js';
import { DnsResourceNat, type NatKey } from './dns-resource-nat.js';
import { DnsTcpServer, type TcpSegment } from './dns-tcp-server.js';
import type { ClientEvent, GatewayView, MappingView, ResourceStatus, SentinelView } from './events.js';
import { MappedIpAllocator, type DomainMapping } from './mapped-ips.js';
import { PacketBudget } from './packet-buffer.js';
import { PendingFlows } from './pending-flows.js';
import { ResourceTable } from './resource-table.js';
import { Sentinels } from './sentinels.js';
import { resolveLocally, type StubAction } from './stub-resolver.js';
import { UpstreamQueries, type ReplyPath, type Transport } from './upstream-queries.js';

/**
 * The client's data plane as a sans-IO state machine (DESIGN.md "Client behaviour"): stub resolver on the sentinels,
 * mapped IPs, lazy tunnels to gateways, the DNS-resource NAT, routing decisions. The helper daemon feeds it TUN
 * packets, WireGuard datagrams, portal messages and upstream DNS answers, and carries out what it polls: packets for
 * the TUN, datagrams for gateways, queries for upstream resolvers, requests for the portal, events for the UI.
 *
 * Life of a connection to `app.corp.test` (a granted `*.corp.test` DNS resource):
 * 1. The app asks a sentinel for A `app.corp.test`: answered at once with the domain's 4 mapped IPv4 addresses.
 * 2. Its first packet to a mapped IP has no gateway: it is buffered and `request_authorization` goes to the portal.
 * 3. `authorization_created` names a gateway: a WireGuard peer is added and `assigned_ips` for every mapped domain of
 *    the resource is queued to it, which starts the handshake.
 * 4. `domain_status` active confirms the NAT; the buffered packets go through, then everything else.
 * If the tunnel dies (handshake failure, expired session, gateway replaced) the next packet starts again at 2, with
 * the same mapped IPs: the application never has to ask DNS again.
 *
 * Memory is bounded whatever the input: mapped domains by `maxMappedDomains` (~250 bytes each), NAT entries by
 * domains × gateways, buffered packets by `limits.bufferedBytes` in total (128 per resource, 128 per pending NAT),
 * forwarded queries by `limits.pendingUpstreamQueries`, TCP connections by `limits.tcpConnections` (64 KiB each),
 * queued events and TUN packets by `limits.queuedEvents`/`queuedTunPackets` (oldest dropped, counted).
 */

export interface ClientLimits {
  /** Packets buffered per resource while its tunnel is set up (oldest dropped). */
  flowBufferPackets: number;
  /** Packets buffered per domain while its NAT is Pending (the first packets move there from the resource's flow). */
  natBufferPackets: number;
  /** Bytes of buffered packets in total. */
  bufferedBytes: number;
  pendingUpstreamQueries: number;
  upstreamTimeoutMs: Record<Transport, number>;
  tcpConnections: number;
  queuedEvents: number;
  queuedTunPackets: number;
  /** The 2 s rule: authorization requests and NAT set-up are repeated at most this often. */
  retryIntervalMs: number;
  /** Ask the portal again this long before an authorization expires, while packets flow. */
  renewBeforeExpiryMs: number;
}

export const DEFAULT_LIMITS: ClientLimits = {
  flowBufferPackets: 128,
  natBufferPackets: 128,
  bufferedBytes: 4 * 1024 * 1024,
  pendingUpstreamQueries: 1024,
  upstreamTimeoutMs: { udp: 4000, tcp: 10_000 },
  tcpConnections: 64,
  queuedEvents: 4096,
  queuedTunPackets: 4096,
  retryIntervalMs: 2000,
  renewBeforeExpiryMs: 60_000,
};

export interface ClientStateOptions {
  /** The device's WireGuard private key, base64 (its public key goes to the portal in `register_device`). */
  privateKey: string;
  rng: Rng;
  /** Mapped-IP ranges unless the portal's `init` says otherwise; default 100.96.0.0/11 and fd00:2021:1111:8000::/107. */
  mappedRanges?: { ipv4: string; ipv6: string };
  maxMappedDomains?: number;
  /** The TUN MTU (sizes our TCP segments and WireGuard padding); default 1280. */
  mtu?: number;
  /** WireGuard persistent keepalive towards gateways, seconds; default 25 (keeps NAT mappings on the way open). */
  persistentKeepalive?: number;
  /** WireGuard protocol timers, for tests that must see expiries in seconds. */
  wireguardTimers?: Partial<TimerConfig>;
  limits?: Partial<ClientLimits>;
}

/** A DNS query the helper sends to `server` port 53 over a socket that bypasses the tunnel. */
export interface UpstreamQuery {
  ref: number;
  server: string;
  port: 53;
  transport: Transport;
  /** The DNS message (without the TCP length prefix). */
  payload: Uint8Array;
}

/** The helper's answer to `UpstreamQuery` `ref`: the response message, or why there is none. */
export type UpstreamResult = Uint8Array | { error: string };

export interface Transmit {
  to: Endpoint;
  data: Uint8Array;
}

export interface ClientStats {
  drops: Record<string, number>;
  dnsQueries: number;
  dnsAnsweredLocally: number;
  dnsForwarded: number;
  dnsUpstreamFailures: number;
  packetsToGateways: number;
  packetsFromGateways: number;
  authorizationRequests: number;
  mappedDomains: number;
  natEntries: number;
  pendingFlows: number;
  pendingUpstreamQueries: number;
  bufferedBytes: number;
  gateways: number;
  tcpConnections: number;
  droppedEvents: number;
  droppedTunPackets: number;
}

interface GatewayConnection {
  info: GatewayInfo;
  presharedKey: string;
  state: 'handshaking' | 'connected';
  tunnelV4: Uint8Array;
  tunnelV6: Uint8Array;
  resources: Set<string>;
  /** Domains with a NAT entry on this gateway: their mapped IPs are in the peer's allowed IPs. */
  domains: Set<string>;
  allowedIpsDirty: boolean;
  /**
   * Control messages waiting for the handshake. The first one queued starts the handshake (WireGuard stages it);
   * the rest wait here rather than in WireGuard's small staging queue, which a resource with many domains would
   * overflow. One per (resource, domain): a retry replaces the held message.
   */
  heldControl: Map<string, Uint8Array>;
}

interface Binding {
  gatewayId: string;
  expiresAt: number;
}

interface SelfInfo {
  deviceId: string;
  tunnelV4: Uint8Array;
  tunnelV6: Uint8Array;
}

const MAX_CONNECTED_GATEWAY_IDS = 1024;
const EXHAUSTION_EVENT_INTERVAL_MS = 1000;

export class ClientState {
  readonly #limits: ClientLimits;
  readonly #options: ClientStateOptions;
  readonly #device: Device;
  readonly #resources = new ResourceTable();
  readonly #defaultRanges: { ipv4: Ipv4Cidr; ipv6: Ipv6Cidr };
  #allocator: MappedIpAllocator;
  #sentinels: Sentinels;
  readonly #budget: PacketBudget;
  readonly #flows: PendingFlows;
  readonly #nat: DnsResourceNat;
  readonly #tcp: DnsTcpServer;
  readonly #upstreams: UpstreamQueries;
  readonly #gateways = new Map<string, GatewayConnection>();
  readonly #gatewaysByKey = new Map<string, GatewayConnection>();
  readonly #bindings = new Map<string, Binding>();
  readonly #renewRequestedAt = new Map<string, number>();
  readonly #refusals = new Map<string, IcmpErrorKind>();
  readonly #status = new Map<string, ResourceStatus>();
  readonly #proxyIpText = new WeakMap<DomainMapping, { ipv4: string[]; ipv6: string[]; dual: string[] }>();
  #self: SelfInfo | undefined;
  #hostResolvers: string[] = [];
  #portalResolvers: string[] = [];
  #routesKey = '';
  #lastExhaustionEventAt = -Infinity;

  readonly #view = new Packet();
  readonly #scratch = new Packet();
  readonly #tunOut: Uint8Array[] = [];
  readonly #transmits: Transmit[] = [];
  readonly #upstreamOut: UpstreamQuery[] = [];
  readonly #portalOut: ClientToPortal[] = [];
  readonly #events: ClientEvent[] = [];
  readonly #drops: Record<string, number> = {};
  readonly #counters = {
    dnsQueries: 0,
    dnsAnsweredLocally: 0,
    dnsForwarded: 0,
    dnsUpstreamFailures: 0,
    packetsToGateways: 0,
    packetsFromGateways: 0,
    authorizationRequests: 0,
    droppedEvents: 0,
    droppedTunPackets: 0,
  };

  constructor(options: ClientStateOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    const mtu = options.mtu ?? 1280;
    this.#device = new Device({
      privateKey: options.privateKey,
      rng: options.rng,
      mtu,
      ...(options.wireguardTimers ? { timers: options.wireguardTimers } : {}),
    });
    // The options come from the daemon's own configuration: a bad range is a startup error, so `cidr` may throw.
    this.#defaultRanges = options.mappedRanges
      ? { ipv4: cidr(options.mappedRanges.ipv4) as Ipv4Cidr, ipv6: cidr(options.mappedRanges.ipv6) as Ipv6Cidr }
      : { ipv4: DEFAULT_MAPPED_IPV4_RANGE, ipv6: DEFAULT_MAPPED_IPV6_RANGE };
    this.#allocator = this.#newAllocator(this.#defaultRanges);
    this.#sentinels = this.#newSentinels();
    this.#budget = new PacketBudget(this.#limits.bufferedBytes);
    const dedupeKey = (packet: Uint8Array) => this.#synKey(packet);
    this.#flows = new PendingFlows({
      retryIntervalMs: this.#limits.retryIntervalMs,
      bufferCapacity: this.#limits.flowBufferPackets,
      budget: this.#budget,
      dedupeKey,
    });
    this.#nat = new DnsResourceNat({
      retryIntervalMs: this.#limits.retryIntervalMs,
      bufferCapacity: this.#limits.natBufferPackets,
      budget: this.#budget,
      dedupeKey,
    });
    this.#tcp = new DnsTcpServer({
      rng: options.rng,
      ourMss: { ipv4: mtu - 40, ipv6: mtu - 60 },
      maxConnections: this.#limits.tcpConnections,
    });
    this.#upstreams = new UpstreamQueries(this.#limits.upstreamTimeoutMs, this.#limits.pendingUpstreamQueries);
    this.#routesKey = this.routes().join(' ');
  }

  /** Our WireGuard public key, base64 (for `register_device`). */
  get publicKey(): string {
    return this.#device.publicKey;
  }

  // ---- inputs ---------------------------------------------------------------------------------------------------

  /** An IP packet read from the TUN device. */
  handleTunPacket(packet: Uint8Array, now: number): void {
    const p = this.#view;
    if (p.parse(packet) !== undefined) {
      this.#drop('malformed_packet');
      return;
    }
    if (this.#isSentinelDestination(p)) this.#handleSentinelPacket(p, packet, now);
    else this.#handleResourcePacket(p, packet, now);
    this.#settle(now);
  }

  /** A UDP datagram received from a gateway (WireGuard). */
  handleNetworkDatagram(datagram: Uint8Array, from: Endpoint, now: number): void {
    const result = this.#device.handleDatagram(datagram, from, now);
    if (result.kind === 'dropped') this.#drop(`wireguard_${result.reason}`);
    if (result.kind === 'packet') {
      const gateway = this.#gatewaysByKey.get(result.peer.publicKey);
      if (gateway === undefined) this.#drop('packet_from_unknown_gateway');
      else this.#handleGatewayPacket(gateway, result.packet, now);
    }
    this.#settle(now);
  }

  /** A message from the portal (already validated against `PortalToClient`). */
  handlePortalMessage(message: PortalToClient, now: number): void {
    switch (message.type) {
      case 'init':
        this.#handleInit(message);
        break;
      case 'resource_created_or_updated': {
        const previous = this.#resources.upsert(message.resource);
        this.#resourcesChanged(previous && materiallyChanged(previous, message.resource) ? [previous.id] : []);
        break;
      }
      case 'resource_deleted':
        if (this.#resources.remove(message.resourceId) !== undefined) this.#resourcesChanged([message.resourceId]);
        break;
      case 'config_changed':
        this.#resources.setBlockRules(message.blockRules);
        this.#applyMappedRanges(message.mappedRanges);
        this.#portalResolvers = [...message.upstreamResolvers];
        this.#updateSentinels();
        this.#emitRoutesIfChanged();
        break;
      case 'authorization_created':
        this.#handleAuthorizationCreated(message, now);
        break;
      case 'authorization_failed': {
        const kind: IcmpErrorKind =
          message.reason === 'forbidden' || message.reason === 'not_found' ? 'admin-prohibited' : 'host-unreachable';
        this.#refusals.set(message.resourceId, kind);
        for (const packet of this.#flows.refuse(message.resourceId, now)) this.#icmpForBuffered(packet, kind);
        this.#setStatus(message.resourceId, kind === 'admin-prohibited' ? 'forbidden' : 'offline');
        this.#emit({
          type: 'authorization_failed',
          resourceId: message.resourceId,
          reason: message.reason,
          message: message.message,
        });
        break;
      }
      case 'error':
        this.#emit({ type: 'portal_error', code: message.code, message: message.message });
        break;
    }
    this.#settle(now);
  }

  /** The answer (or failure) of `UpstreamQuery` `ref`. Unknown or late refs are ignored. */
  handleUpstreamResponse(ref: number, result: UpstreamResult, now: number): void {
    const pending = this.#upstreams.take(ref);
    if (pending === undefined) {
      this.#drop('late_upstream_response');
      return;
    }
    const parsed = parseQuery(pending.query);
    if (!parsed.ok) return; // cannot happen: it parsed when it was forwarded
    const query = parsed.value;
    const transport = pending.reply.transport;
    // Relay only an answer to the question asked (a confused or spoofing upstream gets the application SERVFAIL).
    const info = result instanceof Uint8Array ? inspectResponse(result) : undefined;
    let response: Uint8Array;
    if (info?.ok && info.value.question !== undefined && sameQuestion(info.value.question, query.question)) {
      response = (result as Uint8Array).slice();
      setMessageId(response, query.id);
      // Upstreams honour the query's EDNS size; one that does not gets the application to retry over TCP.
      if (transport === 'udp' && response.length > maxResponseSize(query, 'udp')) response = truncatedReply(query);
    } else {
      this.#counters.dnsUpstreamFailures++;
      response = answerRcode(query, Rcode.SERVFAIL, { transport });
    }
    this.#sendDnsReply(pending.reply, response, now);
    this.#settle(now);
  }

  /**
   * The host's own resolvers (systemd-resolved's or /etc/resolv.conf's upstreams, read by the helper before it
   * points the host at the sentinels). Used unless the portal configured upstreams.
   */
  setHostResolvers(addresses: readonly string[]): void {
    this.#hostResolvers = [...addresses];
    this.#updateSentinels();
  }

  handleTimeout(now: number): void {
    this.#device.handleTimeout(now);
    this.#tcp.handleTimeout(now);
    this.#drainTcp(now);
    for (const pending of this.#upstreams.takeExpired(now)) {
      const parsed = parseQuery(pending.query);
      if (!parsed.ok) continue;
      this.#counters.dnsUpstreamFailures++;
      this.#sendDnsReply(
        pending.reply,
        answerRcode(parsed.value, Rcode.SERVFAIL, { transport: pending.reply.transport }),
        now,
      );
    }
    this.#settle(now);
  }

  /**
   * Sign-out: tunnels, authorizations, resources, portal upstreams, NAT state and DNS connections go; the mapped IPs
   * of every domain stay, so after the next sign-in applications that cached them keep working.
   */
  reset(): void {
    for (const gateway of [...this.#gateways.values()]) this.#gatewayGone(gateway, 'sign_out');
    this.#bindings.clear();
    this.#renewRequestedAt.clear();
    this.#refusals.clear();
    this.#flows.clear();
    this.#nat.clear();
    this.#tcp.clear();
    this.#upstreams.clear();
    this.#upstreamOut.length = 0;
    this.#portalOut.length = 0;
    this.#self = undefined;
    this.#portalResolvers = [];
    this.#resources.clear();
    this.#updateSentinels();
    this.#resourcesChanged([]);
    this.#drainNatEvents();
  }

  // ---- outputs --------------------------------------------------------------------------------------------------

  /** A packet to write to the TUN device. */
  pollTunPacket(): Uint8Array | undefined {
    return this.#tunOut.shift();
  }

  /** A datagram to send to a gateway. */
  pollTransmit(): Transmit | undefined {
    return this.#transmits.shift();
  }

  pollUpstreamQuery(): UpstreamQuery | undefined {
    return this.#upstreamOut.shift();
  }

  pollPortalMessage(): ClientToPortal | undefined {
    return this.#portalOut.shift();
  }

  pollEvent(): ClientEvent | undefined {
    return this.#events.shift();
  }

  pollTimeout(): number | undefined {
    const deadlines = [this.#device.pollTimeout(), this.#tcp.pollTimeout(), this.#upstreams.nextDeadline()];
    let earliest: number | undefined;
    for (const at of deadlines) if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
    return earliest;
  }

  // ---- queries --------------------------------------------------------------------------------------------------

  /** What the helper routes into the TUN: mapped ranges, sentinel ranges, CIDR resources (CIDR text, sorted). */
  routes(): string[] {
    const ranges = [
      this.#allocator.ranges.ipv4,
      this.#allocator.ranges.ipv6,
      SENTINEL_IPV4_RANGE,
      SENTINEL_IPV6_RANGE,
      ...this.#resources.ranges(),
    ].map(formatCidr);
    return [...new Set(ranges)].sort();
  }

  sentinels(): SentinelView[] {
    return this.#sentinels.entries().map((e) => ({ sentinel: formatIp(e.sentinel), upstream: formatIp(e.upstream) }));
  }

  /** The mapped-IP table, most recently used first. */
  mappings(): MappingView[] {
    return [...this.#allocator.mappings()].map((m) => this.#mappingView(m)).sort((a, b) => b.lastUsedAt - a.lastUsedAt);
  }

  mapping(domain: string): MappingView | undefined {
    const mapping = this.#allocator.get(domain);
    return mapping === undefined ? undefined : this.#mappingView(mapping);
  }

  resources(): { resource: Resource; status: ResourceStatus; gatewayId: string | undefined }[] {
    return this.#resources.all().map((resource) => ({
      resource,
      status: this.#status.get(resource.id) ?? 'idle',
      gatewayId: this.#bindings.get(resource.id)?.gatewayId,
    }));
  }

  gateways(): GatewayView[] {
    return [...this.#gateways.values()].map((g) => ({
      id: g.info.id,
      siteId: g.info.siteId,
      endpoint: `${g.info.endpoint.host}:${g.info.endpoint.port}`,
      state: g.state,
      resourceIds: [...g.resources],
      lastHandshakeAt: this.#device.peerByPublicKey(g.info.publicKey)?.lastHandshakeAt,
    }));
  }

  stats(): ClientStats {
    return {
      drops: { ...this.#drops },
      ...this.#counters,
      mappedDomains: this.#allocator.size,
      natEntries: this.#nat.size,
      pendingFlows: this.#flows.size,
      pendingUpstreamQueries: this.#upstreams.size,
      bufferedBytes: this.#budget.usedBytes,
      gateways: this.#gateways.size,
      tcpConnections: this.#tcp.connectionCount,
    };
  }

  // ---- DNS on the sentinels -------------------------------------------------------------------------------------

  #isSentinelDestination(p: Packet): boolean {
    if (p.version === 4) return cidrContains(SENTINEL_IPV4_RANGE, readIpv4(p.buffer, p.dstOffset));
    return prefixMatches(p.buffer, p.dstOffset, SENTINEL_V6_BYTES, SENTINEL_IPV6_RANGE.prefix);
  }

  #handleSentinelPacket(p: Packet, packet: Uint8Array, now: number): void {
    const sentinel: IpAddress = p.version === 4 ? readIpv4(p.buffer, p.dstOffset) : readIpv6(p.buffer, p.dstOffset);
    const upstream = this.#sentinels.upstreamOf(sentinel);
    const isDns = (p.protocol === IpProtocol.Udp || p.protocol === IpProtocol.Tcp) && p.hasTransportHeader;
    if (upstream === undefined || !isDns || p.dstPort !== 53 || p.isFragment) {
      // Nothing listens there: say so, so the OS moves on to its next server at once.
      this.#drop(upstream === undefined ? 'unknown_sentinel' : 'not_dns_on_sentinel');
      if (isDns && !p.isFragment) this.#icmp(p, 'port-unreachable');
      return;
    }
    if (p.protocol === IpProtocol.Tcp) {
      this.#tcp.handleSegment(tcpSegmentOf(p, packet), now);
      this.#drainTcp(now);
      return;
    }
    const payload = packet.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength);
    const reply: ReplyPath = {
      transport: 'udp',
      client: p.srcAddress(),
      clientPort: p.srcPort,
      sentinel: p.dstAddress(),
    };
    this.#handleDnsQuery(payload, reply, upstream, now);
  }

  #drainTcp(now: number): void {
    for (;;) {
      const segment = this.#tcp.pollSegment();
      if (segment !== undefined) {
        this.#toTun(
          buildTcp({
            src: segment.local.address,
            dst: segment.remote.address,
            srcPort: segment.local.port,
            dstPort: segment.remote.port,
            seq: segment.seq,
            ack: segment.ack,
            flags: segment.flags,
            window: segment.window,
            ...(segment.mss === undefined ? {} : { options: mssOption(segment.mss) }),
            payload: segment.payload,
          }),
        );
        continue;
      }
      const query = this.#tcp.pollQuery();
      if (query === undefined) return;
      const local = query.local.address;
      const upstream = this.#sentinels.upstreamOf(local.length === 4 ? readIpv4(local, 0) : readIpv6(local, 0));
      const reply: ReplyPath = { transport: 'tcp', connection: query.connection };
      if (upstream === undefined) {
        // The sentinel went away while the connection was open (upstreams changed).
        this.#tcp.respond(query.connection, refusedHeaderOnly(query.message), now);
        continue;
      }
      this.#handleDnsQuery(query.message, reply, upstream, now);
    }
  }

  #handleDnsQuery(payload: Uint8Array, reply: ReplyPath, upstream: IpAddress, now: number): void {
    this.#counters.dnsQueries++;
    const parsed = parseQuery(payload);
    if (!parsed.ok) {
      this.#drop(`dns_${parsed.error.kind}`);
      if (parsed.error.reply !== undefined) this.#sendDnsReply(reply, parsed.error.reply, now);
      else if (reply.transport === 'tcp') this.#tcp.abandon(reply.connection, now);
      return;
    }
    const query = parsed.value;
    const decision = resolveLocally(
      query,
      reply.transport,
      { resources: this.#resources, allocator: this.#allocator },
      now,
    );
    const log = (action: StubAction, resourceId?: string) =>
      this.#emit({
        type: 'dns_query',
        name: query.question.name,
        qtype: query.question.type,
        transport: reply.transport,
        action,
        ...(resourceId === undefined ? {} : { resourceId }),
      });

    if (decision.kind === 'forward') {
      this.#nat.handleAnyQuery(now);
      const pending = this.#upstreams.add(payload, reply, now);
      if (pending === undefined) {
        this.#drop('too_many_upstream_queries');
        this.#sendDnsReply(reply, answerRcode(query, Rcode.SERVFAIL, { transport: reply.transport }), now);
        log('upstream_failed');
        return;
      }
      this.#counters.dnsForwarded++;
      this.#upstreamOut.push({
        ref: pending.ref,
        server: formatIp(upstream),
        port: 53,
        transport: reply.transport,
        payload: pending.query,
      });
      log('forwarded', decision.resource?.id);
      return;
    }

    this.#counters.dnsAnsweredLocally++;
    const { mapping, resource } = decision;
    if (decision.action === 'exhausted') {
      this.#drop('mapped_ips_exhausted');
      if (now - this.#lastExhaustionEventAt >= EXHAUSTION_EVENT_INTERVAL_MS) {
        this.#lastExhaustionEventAt = now;
        this.#emit({ type: 'mapped_ips_exhausted', domain: query.question.name, message: decision.message ?? '' });
      }
    }
    if (mapping !== undefined && resource !== undefined && decision.action === 'mapped') {
      this.#noteMappingResource(mapping, resource.id, decision.created === true);
      const binding = this.#bindings.get(resource.id);
      if (binding !== undefined && this.#gateways.has(binding.gatewayId)) {
        this.#nat.handleQueryForDomain(
          this.#natKey(binding.gatewayId, mapping),
          this.#proxyIps(mapping, resource),
          now,
        );
      } else {
        this.#nat.handleAnyQuery(now);
      }
    } else {
      this.#nat.handleAnyQuery(now);
    }
    this.#sendDnsReply(reply, decision.response, now);
    log(decision.action, resource?.id);
  }

  #sendDnsReply(reply: ReplyPath, message: Uint8Array, now: number): void {
    if (reply.transport === 'tcp') {
      this.#tcp.respond(reply.connection, message, now);
      this.#drainTcp(now);
      return;
    }
    this.#toTun(
      buildUdp({ src: reply.sentinel, dst: reply.client, srcPort: 53, dstPort: reply.clientPort, payload: message }),
    );
  }

  // ---- packets for resources ------------------------------------------------------------------------------------

  #handleResourcePacket(p: Packet, packet: Uint8Array, now: number): void {
    const mapping = this.#allocator.mappingAt(p.buffer, p.dstOffset, p.addressLength);
    if (mapping !== undefined) {
      const resource = mapping.resourceId === undefined ? undefined : this.#resources.get(mapping.resourceId);
      if (resource === undefined || resource.type !== 'dns') {
        this.#drop('mapped_ip_not_granted');
        this.#icmp(p, 'admin-prohibited');
        return;
      }
      mapping.lastUsedAt = now;
      this.#routeToResource(resource, mapping, p, packet, now);
      return;
    }
    const destination: IpAddress = p.version === 4 ? readIpv4(p.buffer, p.dstOffset) : readIpv6(p.buffer, p.dstOffset);
    if (this.#allocator.inRanges(destination)) {
      this.#drop('mapped_ip_unassigned');
      this.#icmp(p, 'host-unreachable');
      return;
    }
    const resource = this.#resources.matchAddress(destination);
    if (resource === undefined) {
      this.#drop('no_resource');
      return;
    }
    this.#routeToResource(resource, undefined, p, packet, now);
  }

  #routeToResource(
    resource: Resource,
    mapping: DomainMapping | undefined,
    p: Packet,
    packet: Uint8Array,
    now: number,
  ): void {
    let binding = this.#bindings.get(resource.id);
    if (binding !== undefined && now >= binding.expiresAt) {
      this.#unbind(resource.id);
      binding = undefined;
    }
    if (binding === undefined) {
      switch (this.#flows.handlePacket(resource.id, packet, now)) {
        case 'request':
          this.#requestAuthorization(resource.id);
          this.#setStatus(resource.id, 'connecting');
          return;
        case 'buffered':
          return;
        case 'refused':
          this.#drop('resource_refused');
          this.#icmp(p, this.#refusals.get(resource.id) ?? 'admin-prohibited');
          return;
      }
    }
    const gateway = this.#gateways.get(binding.gatewayId);
    if (gateway === undefined) return; // bindings are removed with their gateway
    if (binding.expiresAt - now < this.#limits.renewBeforeExpiryMs) this.#renewAuthorization(resource.id, now);
    if (resource.type === 'cidr' || mapping === undefined) {
      this.#encapsulate(gateway, packet, now);
      return;
    }
    const verdict = this.#nat.handlePacket(
      this.#natKey(gateway.info.id, mapping),
      this.#proxyIps(mapping, resource),
      packet,
      now,
    );
    if (verdict === 'forward') this.#encapsulate(gateway, packet, now);
    else if (verdict === 'refused') {
      this.#drop('nat_failed');
      this.#icmp(p, 'host-unreachable');
    }
  }

  /** Asks the portal for a gateway; it prefers those we already have a tunnel to. */
  #requestAuthorization(resourceId: string): void {
    this.#counters.authorizationRequests++;
    this.#portalOut.push({
      type: 'request_authorization',
      resourceId,
      connectedGatewayIds: [...this.#gateways.keys()].slice(0, MAX_CONNECTED_GATEWAY_IDS),
    });
  }

  #renewAuthorization(resourceId: string, now: number): void {
    const last = this.#renewRequestedAt.get(resourceId);
    if (last !== undefined && now - last < this.#limits.retryIntervalMs) return;
    this.#renewRequestedAt.set(resourceId, now);
    this.#requestAuthorization(resourceId);
  }

  // ---- gateways -------------------------------------------------------------------------------------------------

  #handleAuthorizationCreated(message: AuthorizationCreated, now: number): void {
    const resource = this.#resources.get(message.resourceId);
    if (resource === undefined || this.#self === undefined) {
      this.#drop('authorization_for_unknown_resource');
      return;
    }
    const gateway = this.#ensureGateway(message.gateway, message.presharedKey, now);
    if (gateway === undefined) return;
    const previous = this.#bindings.get(resource.id);
    if (previous !== undefined && previous.gatewayId !== gateway.info.id) this.#unbind(resource.id);
    this.#bindings.set(resource.id, { gatewayId: gateway.info.id, expiresAt: message.expiresAt });
    this.#renewRequestedAt.delete(resource.id);
    this.#refusals.delete(resource.id);
    if (!gateway.resources.has(resource.id)) {
      gateway.resources.add(resource.id);
      gateway.allowedIpsDirty = true;
    }
    this.#setStatus(resource.id, gateway.state === 'connected' ? 'online' : 'connecting');

    const packets = this.#flows.take(resource.id);
    if (resource.type === 'cidr') {
      for (const packet of packets) this.#encapsulate(gateway, packet, now);
      return;
    }
    // DNS resource: tell the gateway about every domain of the resource (as Firezone does), each with its packets.
    const byDomain = new Map<DomainMapping, Uint8Array[]>();
    for (const packet of packets) {
      if (this.#scratch.parse(packet) !== undefined) continue;
      const mapping = this.#allocator.mappingAt(
        this.#scratch.buffer,
        this.#scratch.dstOffset,
        this.#scratch.addressLength,
      );
      if (mapping === undefined || mapping.resourceId !== resource.id) continue;
      let list = byDomain.get(mapping);
      if (list === undefined) byDomain.set(mapping, (list = []));
      list.push(packet);
    }
    for (const mapping of this.#allocator.mappings()) {
      if (mapping.resourceId !== resource.id) continue;
      this.#nat.ensure(
        this.#natKey(gateway.info.id, mapping),
        this.#proxyIps(mapping, resource),
        now,
        byDomain.get(mapping),
      );
    }
  }

  #ensureGateway(info: GatewayInfo, presharedKey: string, now: number): GatewayConnection | undefined {
    let gateway = this.#gateways.get(info.id);
    if (gateway !== undefined && gateway.info.publicKey !== info.publicKey) {
      this.#gatewayGone(gateway, 'replaced');
      gateway = undefined;
    }
    const tunnelV4 = ipToBytes(ip(info.tunnel.ipv4));
    const tunnelV6 = ipToBytes(ip(info.tunnel.ipv6));
    if (gateway === undefined) {
      gateway = {
        info,
        presharedKey,
        state: 'handshaking',
        tunnelV4,
        tunnelV6,
        resources: new Set(),
        domains: new Set(),
        allowedIpsDirty: false,
        heldControl: new Map(),
      };
      try {
        this.#configurePeer(gateway, true);
      } catch {
        this.#drop('invalid_gateway_key');
        return undefined;
      }
      this.#gateways.set(info.id, gateway);
      this.#gatewaysByKey.set(info.publicKey, gateway);
      return gateway;
    }
    const endpointChanged =
      gateway.info.endpoint.host !== info.endpoint.host || gateway.info.endpoint.port !== info.endpoint.port;
    // A portal without connection ids (absent on either side) says nothing about restarts.
    const lostState =
      gateway.info.connectionId !== undefined &&
      info.connectionId !== undefined &&
      gateway.info.connectionId !== info.connectionId;
    const keyChanged = gateway.presharedKey !== presharedKey;
    gateway.info = info;
    gateway.presharedKey = presharedKey;
    if (lostState) this.#gatewayLostState(gateway, now);
    else if (endpointChanged || keyChanged) this.#configurePeer(gateway, true);
    return gateway;
  }

  /**
   * The gateway restarted (a new connection id from the portal): its WireGuard sessions and DNS-resource NAT are gone,
   * though our peer would only notice after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (15 s) of silence, and our Confirmed
   * NAT entries never would. Drop the session (the peer is re-added, so the next packet — or the `assigned_ips` below
   * — handshakes at once) and set up every NAT entry of the gateway again. Mapped IPs, authorizations and buffered
   * packets stay: the application notices nothing but a short pause (seed 001).
   */
  #gatewayLostState(gateway: GatewayConnection, now: number): void {
    this.#device.removePeer(gateway.info.publicKey);
    this.#configurePeer(gateway, true);
    gateway.allowedIpsDirty = false;
    gateway.heldControl.clear();
    if (gateway.state === 'connected') {
      gateway.state = 'handshaking';
      this.#emit({ type: 'gateway_disconnected', gatewayId: gateway.info.id, reason: 'gateway_restarted' });
      for (const id of gateway.resources) this.#setStatus(id, 'connecting');
    }
    this.#nat.resetGateway(gateway.info.id, now);
  }

  /**
   * Our WireGuard peer for the gateway, with its allowed IPs (what it may send us from). The endpoint is set only
   * when the portal gave a new one: otherwise the one the peer roamed to stays. Throws RangeError on a bad key.
   */
  #configurePeer(gateway: GatewayConnection, withEndpoint: boolean): void {
    this.#device.upsertPeer({
      publicKey: gateway.info.publicKey,
      presharedKey: gateway.presharedKey,
      ...(withEndpoint ? { endpoint: gateway.info.endpoint } : {}),
      allowedIps: this.#allowedIps(gateway),
      persistentKeepalive: this.#options.persistentKeepalive ?? 25,
    });
  }

  #handleGatewayPacket(gateway: GatewayConnection, packet: Uint8Array, now: number): void {
    const p = this.#view;
    if (p.parse(packet) !== undefined) {
      this.#drop('malformed_packet_from_gateway');
      return;
    }
    const fromGatewayItself =
      p.protocol === IpProtocol.Udp &&
      p.hasTransportHeader &&
      p.srcPort === CONTROL_PORT &&
      sameBytes(p.buffer, p.srcOffset, p.version === 4 ? gateway.tunnelV4 : gateway.tunnelV6);
    if (!fromGatewayItself) {
      this.#counters.packetsFromGateways++;
      this.#toTun(packet);
      return;
    }
    const decoded = decodeGatewayToClient(packet.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength));
    if (!decoded.ok) {
      this.#drop('malformed_control_message');
      return;
    }
    const message = decoded.value;
    if (message.type === 'nat_missing') {
      this.#handleNatMissing(gateway, message.proxyIp, now);
      return;
    }
    const { released, refused, known } = this.#nat.handleDomainStatus(gateway.info.id, message);
    if (!known) this.#drop('domain_status_for_unknown_nat');
    for (const buffered of released) this.#encapsulate(gateway, buffered, now);
    for (const buffered of refused) this.#icmpForBuffered(buffered, 'host-unreachable');
  }

  /**
   * The gateway dropped a packet to `proxyIp` because it has no NAT for it (it lost its state, and the portal could
   * not tell us, or the mapping went): set up the NAT of the domain owning that mapped IP again (at most every 2 s).
   * Addresses we did not assign, or whose resource goes through another gateway, are ignored.
   */
  #handleNatMissing(gateway: GatewayConnection, proxyIp: string, now: number): void {
    const parsed = parseIp(proxyIp);
    const mapping = parsed.ok ? this.#allocator.mappingOf(parsed.value) : undefined;
    const resourceId = mapping?.resourceId;
    if (mapping === undefined || resourceId === undefined) {
      this.#drop('nat_missing_for_unknown_ip');
      return;
    }
    if (this.#bindings.get(resourceId)?.gatewayId !== gateway.info.id) {
      this.#drop('nat_missing_from_other_gateway');
      return;
    }
    if (!this.#nat.handleNatMissing(this.#natKey(gateway.info.id, mapping), now)) {
      this.#drop('nat_missing_for_unknown_nat');
    }
  }

  #sendControl(gateway: GatewayConnection, control: Uint8Array, copies: number, now: number): void {
    for (let i = 0; i < copies; i++) this.#encapsulate(gateway, control, now);
  }

  #handleDeviceEvent(event: DeviceEvent, now: number): void {
    const gateway = this.#gatewaysByKey.get(event.peer.publicKey);
    if (gateway === undefined) return;
    switch (event.type) {
      case 'handshake_completed':
        if (gateway.state === 'connected') return;
        gateway.state = 'connected';
        this.#emit({ type: 'gateway_connected', gatewayId: gateway.info.id });
        for (const id of gateway.resources) this.#setStatus(id, 'online');
        // The first held message was staged in WireGuard and went out once with the handshake: its other copies and
        // the rest follow.
        [...gateway.heldControl.values()].forEach((control, i) =>
          this.#sendControl(gateway, control, i === 0 ? CONTROL_COPIES - 1 : CONTROL_COPIES, now),
        );
        gateway.heldControl.clear();
        return;
      case 'handshake_failed':
      case 'session_expired':
        this.#gatewayGone(gateway, event.type);
        return;
      case 'endpoint_changed':
        return;
    }
  }

  /** The tunnel is dead: forget the peer, its authorizations and its NAT; the next packet starts over. */
  #gatewayGone(
    gateway: GatewayConnection,
    reason: 'handshake_failed' | 'session_expired' | 'replaced' | 'sign_out',
  ): void {
    this.#device.removePeer(gateway.info.publicKey);
    this.#gateways.delete(gateway.info.id);
    this.#gatewaysByKey.delete(gateway.info.publicKey);
    for (const id of gateway.resources) {
      this.#bindings.delete(id);
      this.#renewRequestedAt.delete(id);
      this.#setStatus(id, reason === 'handshake_failed' ? 'offline' : 'idle');
    }
    this.#nat.removeGateway(gateway.info.id);
    this.#emit({ type: 'gateway_disconnected', gatewayId: gateway.info.id, reason });
  }

  #unbind(resourceId: string): void {
    const binding = this.#bindings.get(resourceId);
    if (binding === undefined) return;
    this.#bindings.delete(resourceId);
    this.#renewRequestedAt.delete(resourceId);
    const gateway = this.#gateways.get(binding.gatewayId);
    if (gateway !== undefined && gateway.resources.delete(resourceId)) gateway.allowedIpsDirty = true;
    this.#nat.removeResource(resourceId);
    this.#setStatus(resourceId, 'idle');
  }

  #encapsulate(gateway: GatewayConnection, packet: Uint8Array, now: number): void {
    const peer = this.#device.peerByPublicKey(gateway.info.publicKey);
    if (peer === undefined) return;
    const result = this.#device.encapsulateTo(peer, packet, now);
    if (result.kind === 'datagram') {
      this.#counters.packetsToGateways++;
      this.#transmits.push({ to: result.to, data: result.data });
    } else if (result.kind === 'dropped') {
      this.#drop(`wireguard_${result.reason}`);
    }
  }

  #allowedIps(gateway: GatewayConnection): string[] {
    const list = [`${gateway.info.tunnel.ipv4}/32`, `${gateway.info.tunnel.ipv6}/128`];
    for (const id of gateway.resources) {
      const range = this.#resources.rangeOf(id);
      if (range !== undefined) list.push(formatCidr(range));
    }
    for (const domain of gateway.domains) {
      const mapping = this.#allocator.get(domain);
      if (mapping === undefined) continue;
      list.push(`${formatIp(mapping.ipv4[0]!)}/30`, `${formatIp(mapping.ipv6[0]!)}/126`);
    }
    return list;
  }

  // ---- after every input ----------------------------------------------------------------------------------------

  /**
   * Runs what an input set in motion until nothing changes: NAT sends go through the tunnel, WireGuard events
   * (handshakes, failures) update gateways, NAT state changes become events, and peers whose allowed IPs changed
   * are updated once (not once per domain).
   */
  #settle(now: number): void {
    for (let progressed = true; progressed;) {
      progressed = false;
      for (let send = this.#nat.pollSend(); send; send = this.#nat.pollSend()) {
        progressed = true;
        const gateway = this.#gateways.get(send.gatewayId);
        if (gateway === undefined || this.#self === undefined) continue;
        const control = buildUdp({
          src: this.#self.tunnelV4,
          dst: gateway.tunnelV4,
          srcPort: CONTROL_PORT,
          dstPort: CONTROL_PORT,
          payload: encodeTunnelControl(send.message),
        });
        if (gateway.state === 'connected') {
          this.#sendControl(gateway, control, CONTROL_COPIES, now);
          continue;
        }
        const kick = gateway.heldControl.size === 0;
        gateway.heldControl.set(`${send.message.resourceId}\n${send.message.domain}`, control);
        if (kick) this.#encapsulate(gateway, control, now);
      }
      for (let event = this.#device.pollEvent(); event; event = this.#device.pollEvent()) {
        progressed = true;
        this.#handleDeviceEvent(event, now);
      }
      if (this.#drainNatEvents()) progressed = true;
    }
    for (let transmit = this.#device.pollTransmit(); transmit; transmit = this.#device.pollTransmit()) {
      this.#transmits.push({ to: transmit.to, data: transmit.data });
    }
    for (const gateway of this.#gateways.values()) {
      if (!gateway.allowedIpsDirty) continue;
      gateway.allowedIpsDirty = false;
      this.#configurePeer(gateway, false);
    }
  }

  #drainNatEvents(): boolean {
    let any = false;
    for (let event = this.#nat.pollEvent(); event; event = this.#nat.pollEvent()) {
      any = true;
      const { gatewayId, domain, resourceId } = event.key;
      const gateway = this.#gateways.get(gatewayId);
      if (gateway !== undefined) {
        const had = gateway.domains.has(domain);
        if (event.state === 'removed') gateway.domains.delete(domain);
        else gateway.domains.add(domain);
        if (had !== gateway.domains.has(domain)) gateway.allowedIpsDirty = true;
      }
      this.#emit({ type: 'nat_state_changed', gatewayId, domain, resourceId, state: event.state });
    }
    return any;
  }

  // ---- portal state ---------------------------------------------------------------------------------------------

  #handleInit(message: PortalToClient & { type: 'init' }): void {
    this.#self = {
      deviceId: message.device.id,
      tunnelV4: ipToBytes(ip(message.device.tunnel.ipv4)),
      tunnelV6: ipToBytes(ip(message.device.tunnel.ipv6)),
    };
    this.#applyMappedRanges(message.mappedRanges);
    const previous = new Map(this.#resources.all().map((r) => [r.id, r]));
    this.#resources.replaceAll(message.resources);
    this.#resources.setBlockRules(message.blockRules);
    const changed: string[] = [];
    for (const [id, before] of previous) {
      const after = this.#resources.get(id);
      if (after === undefined || materiallyChanged(before, after)) changed.push(id);
    }
    this.#portalResolvers = [...message.upstreamResolvers];
    this.#updateSentinels();
    this.#resourcesChanged(changed);
  }

  /**
   * After resources changed: tunnels and NAT of resources whose address or site changed (or that went away) are
   * dropped, every mapped domain is matched again (so a domain moves to a more specific new resource, and after a
   * sign-in domains find their resources again without a new query), routes are recomputed.
   */
  #resourcesChanged(changedOrRemoved: readonly string[]): void {
    for (const id of changedOrRemoved) {
      this.#unbind(id);
      this.#flows.remove(id);
      this.#refusals.delete(id);
    }
    for (const id of [...this.#status.keys()]) if (this.#resources.get(id) === undefined) this.#status.delete(id);
    for (const mapping of this.#allocator.mappings()) {
      const resourceId = this.#resources.matchDomain(mapping.domain)?.id;
      if (resourceId === mapping.resourceId) continue;
      this.#nat.removeDomain(mapping.domain, resourceId);
      mapping.resourceId = resourceId;
      this.#emit({ type: 'mapping_changed', mapping: this.#mappingView(mapping) });
    }
    this.#emit({ type: 'resources_changed' });
    this.#emitRoutesIfChanged();
  }

  #emitRoutesIfChanged(): void {
    const routes = this.routes();
    const key = routes.join(' ');
    if (key === this.#routesKey) return;
    this.#routesKey = key;
    this.#emit({ type: 'routes_changed', routes });
  }

  /**
   * The portal's mapped ranges (absent: ours, from the options or the defaults). Other ranges than the current ones
   * drop every mapping and its NAT: the old addresses would not be routed any more; applications resolve again.
   */
  #applyMappedRanges(ranges: MappedRanges | undefined): void {
    let wanted = this.#defaultRanges;
    if (ranges !== undefined) {
      const ipv4 = parseCidr(ranges.ipv4, { allowHostBits: true });
      const ipv6 = parseCidr(ranges.ipv6, { allowHostBits: true });
      if (!ipv4.ok || !ipv6.ok || ipv4.value.family !== 4 || ipv6.value.family !== 6) {
        this.#drop('invalid_mapped_ranges');
        return;
      }
      wanted = { ipv4: ipv4.value, ipv6: ipv6.value };
    }
    const current = this.#allocator.ranges;
    if (formatCidr(wanted.ipv4) === formatCidr(current.ipv4) && formatCidr(wanted.ipv6) === formatCidr(current.ipv6)) {
      return;
    }
    this.#nat.clear();
    this.#allocator = this.#newAllocator(wanted);
    this.#sentinels = this.#newSentinels();
    this.#emit({ type: 'mappings_cleared', ranges: [formatCidr(wanted.ipv4), formatCidr(wanted.ipv6)] });
  }

  #updateSentinels(): void {
    const upstreams = this.#portalResolvers.length > 0 ? this.#portalResolvers : this.#hostResolvers;
    const update = this.#sentinels.setUpstreams(upstreams);
    if (update.changed || update.ignored.length > 0) {
      this.#emit({ type: 'dns_sentinels_changed', sentinels: this.sentinels(), ignored: update.ignored });
    }
  }

  #newAllocator(ranges: { ipv4: Ipv4Cidr; ipv6: Ipv6Cidr }): MappedIpAllocator {
    return new MappedIpAllocator(ranges, {
      reserved: [SENTINEL_IPV4_RANGE, SENTINEL_IPV6_RANGE],
      ...(this.#options.maxMappedDomains === undefined ? {} : { maxDomains: this.#options.maxMappedDomains }),
    });
  }

  #newSentinels(): Sentinels {
    const previous = this.#sentinels as Sentinels | undefined;
    const sentinels = new Sentinels({ ipv4: SENTINEL_IPV4_RANGE, ipv6: SENTINEL_IPV6_RANGE }, [
      this.#allocator.ranges.ipv4,
      this.#allocator.ranges.ipv6,
    ]);
    if (previous !== undefined) sentinels.setUpstreams(previous.entries().map((e) => formatIp(e.upstream)));
    return sentinels;
  }

  // ---- helpers --------------------------------------------------------------------------------------------------

  #noteMappingResource(mapping: DomainMapping, resourceId: string, created: boolean): void {
    if (created) {
      mapping.resourceId = resourceId;
      this.#emit({ type: 'mapping_created', mapping: this.#mappingView(mapping) });
      return;
    }
    if (mapping.resourceId === resourceId) return;
    this.#nat.removeDomain(mapping.domain, resourceId);
    mapping.resourceId = resourceId;
    this.#emit({ type: 'mapping_changed', mapping: this.#mappingView(mapping) });
  }

  #mappingView(mapping: DomainMapping): MappingView {
    const gatewayId = mapping.resourceId === undefined ? undefined : this.#bindings.get(mapping.resourceId)?.gatewayId;
    return {
      domain: mapping.domain,
      resourceId: mapping.resourceId,
      ipv4: mapping.ipv4.map(formatIp),
      ipv6: mapping.ipv6.map(formatIp),
      gatewayId,
      natState:
        gatewayId === undefined || mapping.resourceId === undefined
          ? undefined
          : this.#nat.stateOf({ gatewayId, domain: mapping.domain, resourceId: mapping.resourceId }),
      lastUsedAt: mapping.lastUsedAt,
    };
  }

  #natKey(gatewayId: string, mapping: DomainMapping): NatKey {
    return { gatewayId, domain: mapping.domain, resourceId: mapping.resourceId! };
  }

  /** The mapped IPs the gateway must NAT for this domain: the families the resource's IP stack answers. */
  #proxyIps(mapping: DomainMapping, resource: DnsResource | Resource): string[] {
    let text = this.#proxyIpText.get(mapping);
    if (text === undefined) {
      const ipv4 = mapping.ipv4.map(formatIp);
      const ipv6 = mapping.ipv6.map(formatIp);
      text = { ipv4, ipv6, dual: [...ipv4, ...ipv6] };
      this.#proxyIpText.set(mapping, text);
    }
    const stack = resource.type === 'dns' ? resource.ipStack : 'dual';
    return text[stack];
  }

  /** Dedupe key of a TCP SYN (addresses, ports, sequence number): retransmitted SYNs are buffered once. */
  #synKey(packet: Uint8Array): string | undefined {
    const p = this.#scratch;
    if (p.parse(packet) !== undefined || p.protocol !== IpProtocol.Tcp || !p.hasTransportHeader) return undefined;
    if ((p.tcpFlags & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return undefined;
    return `${p.srcKey()}|${p.srcPort}|${p.dstKey()}|${p.dstPort}|${p.tcpSeq}`;
  }

  #setStatus(resourceId: string, status: ResourceStatus): void {
    if (this.#resources.get(resourceId) === undefined) return;
    if ((this.#status.get(resourceId) ?? 'idle') === status) return;
    this.#status.set(resourceId, status);
    this.#emit({ type: 'resource_status_changed', resourceId, status });
  }

  #icmp(p: Packet, kind: IcmpErrorKind): void {
    const error = buildIcmpError(p, { src: p.dstAddress(), kind });
    if (error instanceof Uint8Array) this.#toTun(error);
  }

  #icmpForBuffered(packet: Uint8Array, kind: IcmpErrorKind): void {
    if (this.#scratch.parse(packet) === undefined) this.#icmp(this.#scratch, kind);
  }

  #toTun(packet: Uint8Array): void {
    if (this.#tunOut.length >= this.#limits.queuedTunPackets) {
      this.#tunOut.shift();
      this.#counters.droppedTunPackets++;
    }
    this.#tunOut.push(packet);
  }

  #emit(event: ClientEvent): void {
    if (this.#events.length >= this.#limits.queuedEvents) {
      this.#events.shift();
      this.#counters.droppedEvents++;
    }
    this.#events.push(event);
  }

  #drop(reason: string): void {
    this.#drops[reason] = (this.#drops[reason] ?? 0) + 1;
  }
}

const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
const EMPTY = new Uint8Array(0);
const SENTINEL_V6_BYTES = ipToBytes(SENTINEL_IPV6_RANGE.network);

/** Whether a resource's definition changed in a way that invalidates its tunnel and NAT (not just its name). */
function materiallyChanged(before: Resource, after: Resource): boolean {
  if (before.type !== after.type || before.address !== after.address || before.siteId !== after.siteId) return true;
  return before.type === 'dns' && after.type === 'dns' && before.ipStack !== after.ipStack;
}

/** An empty answer with TC set: "ask again over TCP". */
function truncatedReply(query: DnsQuery): Uint8Array {
  const reply = answerNoData(query, { transport: 'udp', authoritative: false });
  reply[2] = reply[2]! | 0x02;
  return reply;
}

/** REFUSED echoing only the header of a query we cannot forward (its sentinel is gone). */
function refusedHeaderOnly(query: Uint8Array): Uint8Array {
  if (query.length < 12) return EMPTY;
  const out = new Uint8Array(12);
  out[0] = query[0]!;
  out[1] = query[1]!;
  out[2] = 0x80 | (query[2]! & 0x79);
  out[3] = 0x80 | Rcode.REFUSED;
  return out;
}

function prefixMatches(buf: Uint8Array, offset: number, network: Uint8Array, prefix: number): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (buf[offset + i] !== network[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (buf[offset + whole]! & mask) === (network[whole]! & mask);
}

function sameBytes(buf: Uint8Array, offset: number, bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (buf[offset + i] !== bytes[i]) return false;
  return true;
}

function tcpSegmentOf(p: Packet, packet: Uint8Array): TcpSegment {
  const mss = readMssOption(p);
  return {
    local: { address: p.dstAddress(), port: p.dstPort },
    remote: { address: p.srcAddress(), port: p.srcPort },
    seq: p.tcpSeq,
    ack: p.tcpAck,
    flags: p.tcpFlags,
    window: p.tcpWindow,
    ...(mss === undefined ? {} : { mss }),
    payload: packet.slice(p.payloadOffset, p.payloadOffset + p.payloadLength),
  };
}

/** The MSS option (kind 2) of a TCP header, if present; other options (window scale, SACK, timestamps) are skipped. */
function readMssOption(p: Packet): number | undefined {
  const buf = p.buffer;
  const end = p.transportOffset + p.tcpHeaderLength;
  for (let i = p.transportOffset + 20; i < end;) {
    const kind = buf[i]!;
    if (kind === 0) return undefined;
    if (kind === 1) {
      i++;
      continue;
    }
    const length = buf[i + 1];
    if (length === undefined || length < 2 || i + length > end) return undefined;
    if (kind === 2 && length === 4) return (buf[i + 2]! << 8) | buf[i + 3]!;
    i += length;
  }
  return undefined;
}

function mssOption(mss: number): Uint8Array {
  return new Uint8Array([2, 4, mss >> 8, mss & 0xff]);
}
