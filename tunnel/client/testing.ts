/**
 * A deterministic world for `ClientState` tests (not exported from index.ts): a fake clock, scripted gateways that
 * are real WireGuard `Device`s answering `assigned_ips`, a scripted portal, a scripted upstream resolver, and an
 * "application" that sends DNS queries and packets into the TUN. Everything happens on one event queue with fixed
 * latencies, so a test is a sequence of steps and `run(ms)` calls, reproducible to the millisecond.
 */
import { buildQuery, buildResponse, DnsType, inspectResponse, parseQuery, Rcode } from '../dns/index.js';
import type { DnsResponseInfo } from '../dns/index.js';
import { buildIcmpEcho, buildTcp, buildUdp, IpProtocol, Packet } from '../packet/index.js';
import { Device, generatePresharedKey, generatePrivateKey, publicKeyOf, seededRng } from '../wireguard/index.js';
import type { Endpoint } from '../wireguard/index.js';
import { formatIp, ip, ipToBytes, readIpv4, readIpv6 } from '../../protocol/ip.js';
import type { ClientToPortal, GatewayInfo, PortalToClient } from '../../protocol/portal-client.js';
import type { DnsResource, Resource } from '../../protocol/resources.js';
import {
  CONTROL_COPIES,
  CONTROL_PORT,
  decodeClientToGateway,
  encodeTunnelControl,
  type GatewayToClient,
} from '../../protocol/tunnel-control.js';
import { ClientState, type ClientStateOptions, type UpstreamQuery, type UpstreamResult } from './client-state.js';
import type { ClientEvent } from './events.js';

export const T0 = 1_700_000_000_000;
export const CLIENT_TUNNEL = { ipv4: '100.64.0.2', ipv6: 'fd00:2021:1111::2' };
export const CLIENT_ENDPOINT: Endpoint = { host: '192.0.2.10', port: 40000 };
export const HOST_RESOLVER = '192.0.2.53';
/** The DNS resource most tests grant: everything below corp.test, at site A. */
export const CORP_RESOURCE: DnsResource = {
  id: 'res-corp',
  name: 'corp',
  siteId: 'site-a',
  filters: [],
  type: 'dns',
  address: '*.corp.test',
  ipStack: 'dual',
};
/** What the scripted upstream answers for every A query it is asked. */
export const UPSTREAM_ANSWER = '198.51.100.7';

/** A small deterministic PRNG (tests may not use Math.random in tunnel/). */
export function lcg(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export interface ScriptedGatewayOptions {
  id: string;
  siteId: string;
  host: string;
  tunnel: { ipv4: string; ipv6: string };
  seed?: string;
}

/** A gateway: a real WireGuard Device plus a script that answers `assigned_ips` and echoes traffic it NATs. */
export class ScriptedGateway {
  readonly privateKey: string;
  readonly publicKey: string;
  /** What the portal says about the gateway; `connectionId` changes with every restart. */
  info: GatewayInfo;
  device: Device;
  /** Domains that have no records: `assigned_ips` for them is answered inactive. */
  readonly noRecords = new Set<string>();
  /** Probability of losing an incoming `assigned_ips` and, separately, an outgoing `domain_status`. */
  controlLoss = 0;
  random: () => number;
  /** Domain → mapped IPs the NAT knows (set up by an active answer). */
  nat = new Map<string, Set<string>>();
  /** Mapped IP → domain, for the data path. */
  readonly #natByIp = new Map<string, string>();
  /**
   * `assigned_ips` the client sent (lost ones included), its CONTROL_COPIES copies counted once: copies arrive in
   * the same instant, a re-send at least 2 s later.
   */
  assignedIpsReceived = 0;
  /** Every copy of `assigned_ips` that arrived. */
  assignedIpsCopies = 0;
  /** `assigned_ips` sent per domain, counted like `assignedIpsReceived`. */
  readonly assignedIpsByDomain = new Map<string, number>();
  /** `domain_status` answers sent (each in CONTROL_COPIES copies, lost ones included). */
  statusesSent = 0;
  /** Per domain, when its last `assigned_ips` arrived and whether one of its copies was answered. */
  readonly #lastAssigned = new Map<string, { at: number; answered: boolean }>();
  /** Data packets that reached "the service" (NATed), and those dropped because no NAT existed for them. */
  delivered: Uint8Array[] = [];
  blackholed = 0;
  /** Whether a packet to a mapped IP without NAT is answered `nat_missing` (at most once a second per address). */
  reportsMissingNat = false;
  natMissingSent = 0;
  readonly #natMissingAt = new Map<string, number>();
  #restarts = 0;
  readonly outbox: { to: Endpoint; data: Uint8Array }[] = [];
  #clientKey: string | undefined;
  readonly #view = new Packet();

  constructor(readonly options: ScriptedGatewayOptions) {
    const seed = options.seed ?? options.id;
    this.privateKey = generatePrivateKey(seededRng(`${seed}/key`));
    this.publicKey = publicKeyOf(this.privateKey);
    this.device = new Device({ privateKey: this.privateKey, rng: seededRng(`${seed}/rng`) });
    this.random = lcg(options.host.length * 7919 + options.id.length);
    this.info = {
      id: options.id,
      siteId: options.siteId,
      publicKey: this.publicKey,
      endpoint: { host: options.host, port: 51820 },
      tunnel: options.tunnel,
      connectionId: `${options.id}/connection-0`,
    };
  }

  get endpointKey(): string {
    return `${this.info.endpoint.host}:${this.info.endpoint.port}`;
  }

  /** The portal authorized the client here: accept its key (the client's endpoint is learned from its handshake). */
  authorize(clientPublicKey: string, presharedKey: string): void {
    this.#clientKey = clientPublicKey;
    this.device.upsertPeer({
      publicKey: clientPublicKey,
      presharedKey,
      allowedIps: [`${CLIENT_TUNNEL.ipv4}/32`, `${CLIENT_TUNNEL.ipv6}/128`],
    });
  }

  /**
   * A gateway restart: sessions, peers and NAT are gone, and it connects to the portal anew (a new connection id).
   * The portal re-installs its authorizations (`ScriptedPortal.gatewayReconnected`) or, if it is not told, the client's
   * next request does.
   */
  restart(): void {
    this.#restarts++;
    this.device = new Device({ privateKey: this.privateKey, rng: seededRng(`${this.options.id}/restart`) });
    this.info = { ...this.info, connectionId: `${this.options.id}/connection-${this.#restarts}` };
    this.forgetNat();
    this.#clientKey = undefined;
  }

  /** The NAT is gone (evicted, or a restart), WireGuard sessions stay. */
  forgetNat(): void {
    this.nat.clear();
    this.#natByIp.clear();
    this.#natMissingAt.clear();
  }

  receive(datagram: Uint8Array, from: Endpoint, now: number): void {
    const result = this.device.handleDatagram(datagram, from, now);
    if (result.kind === 'packet') this.#handlePacket(result.packet, now);
    this.flush();
  }

  handleTimeout(now: number): void {
    this.device.handleTimeout(now);
    this.flush();
  }

  flush(): void {
    for (let t = this.device.pollTransmit(); t; t = this.device.pollTransmit()) this.outbox.push(t);
    for (let e = this.device.pollEvent(); e; e = this.device.pollEvent());
  }

  #handlePacket(packet: Uint8Array, now: number): void {
    const p = this.#view;
    if (p.parse(packet) !== undefined) return;
    const toGateway = p.version === 4 && formatIp(readIpv4(p.buffer, p.dstOffset)) === this.info.tunnel.ipv4;
    if (toGateway && p.protocol === IpProtocol.Udp && p.dstPort === CONTROL_PORT) {
      this.#handleControl(packet.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength), p.srcPort, now);
      return;
    }
    const destination = formatIp(p.version === 4 ? readIpv4(p.buffer, p.dstOffset) : readIpv6(p.buffer, p.dstOffset));
    const mapped = destination.startsWith('100.96.') || destination.startsWith('fd00:2021:1111:8000:');
    if (mapped && !this.nat.get(this.#natByIp.get(destination) ?? '')?.has(destination)) {
      this.blackholed++;
      this.#reportMissingNat(destination, now);
      return;
    }
    this.delivered.push(packet.slice());
    this.#echo(p, now);
  }

  #handleControl(payload: Uint8Array, replyPort: number, now: number): void {
    const decoded = decodeClientToGateway(payload);
    if (!decoded.ok) return;
    const { domain, resourceId, proxyIps } = decoded.value;
    this.assignedIpsCopies++;
    const last = this.#lastAssigned.get(domain);
    const copy = last !== undefined && last.at === now;
    const request = copy ? last : { at: now, answered: false };
    this.#lastAssigned.set(domain, request);
    if (!copy) {
      this.assignedIpsReceived++;
      this.assignedIpsByDomain.set(domain, (this.assignedIpsByDomain.get(domain) ?? 0) + 1);
    }
    if (this.random() < this.controlLoss || request.answered) return;
    request.answered = true;
    const active = !this.noRecords.has(domain);
    if (active) {
      this.nat.set(domain, new Set(proxyIps));
      for (const proxyIp of proxyIps) this.#natByIp.set(proxyIp, domain);
    } else {
      this.nat.delete(domain);
    }
    this.statusesSent++;
    const status = buildUdp({
      src: ipToBytes(ip(this.info.tunnel.ipv4)),
      dst: ipToBytes(ip(CLIENT_TUNNEL.ipv4)),
      srcPort: CONTROL_PORT,
      dstPort: replyPort,
      payload: encodeTunnelControl({
        type: 'domain_status',
        resourceId,
        domain,
        status: active ? 'active' : 'inactive',
      }),
    });
    for (let i = 0; i < CONTROL_COPIES; i++) if (this.random() >= this.controlLoss) this.#toClient(status, now);
  }

  #reportMissingNat(proxyIp: string, now: number): void {
    if (!this.reportsMissingNat || now - (this.#natMissingAt.get(proxyIp) ?? -Infinity) < 1000) return;
    this.#natMissingAt.set(proxyIp, now);
    this.natMissingSent++;
    this.#toClient(
      buildUdp({
        src: ipToBytes(ip(this.info.tunnel.ipv4)),
        dst: ipToBytes(ip(CLIENT_TUNNEL.ipv4)),
        srcPort: CONTROL_PORT,
        dstPort: CONTROL_PORT,
        payload: encodeTunnelControl({ type: 'nat_missing', proxyIp }),
      }),
      now,
    );
  }

  /** The service answers: UDP and ICMP echo are reflected, a TCP SYN gets a SYN-ACK. */
  #echo(p: Packet, now: number): void {
    const src = p.dstAddress();
    const dst = p.srcAddress();
    if (p.protocol === IpProtocol.Udp) {
      const payload = p.buffer.slice(p.payloadOffset, p.payloadOffset + p.payloadLength);
      this.#toClient(buildUdp({ src, dst, srcPort: p.dstPort, dstPort: p.srcPort, payload }), now);
    } else if (p.protocol === IpProtocol.Tcp && p.tcpFlags === 0x02) {
      this.#toClient(
        buildTcp({
          src,
          dst,
          srcPort: p.dstPort,
          dstPort: p.srcPort,
          seq: 1,
          ack: (p.tcpSeq + 1) >>> 0,
          flags: 0x12,
          window: 65535,
        }),
        now,
      );
    } else if (p.isIcmpEcho) {
      this.#toClient(buildIcmpEcho({ src, dst, reply: true, id: p.icmpId, seq: p.icmpSeq }), now);
    }
  }

  #toClient(packet: Uint8Array, now: number): void {
    if (this.#clientKey === undefined) return;
    const peer = this.device.peerByPublicKey(this.#clientKey);
    if (peer === undefined) return;
    const result = this.device.encapsulateTo(peer, packet, now);
    if (result.kind === 'datagram') this.outbox.push({ to: result.to, data: result.data });
  }
}

/** The portal: grants what the test says, picks a gateway of the resource's site (connected ones first). */
export class ScriptedPortal {
  readonly forbidden = new Set<string>();
  readonly offlineSites = new Set<string>();
  authorizationTtlMs = 3_600_000;
  requests: { resourceId: string; at: number }[] = [];
  #psk = seededRng('portal/psk');
  /** Live authorizations by resource, as the portal's database keeps them. */
  readonly #live = new Map<
    string,
    { gateway: ScriptedGateway; clientPublicKey: string; presharedKey: string; expiresAt: number }
  >();

  constructor(
    public resources: Resource[],
    readonly gateways: ScriptedGateway[],
  ) {}

  init(): Extract<PortalToClient, { type: 'init' }> {
    return {
      type: 'init',
      device: { id: 'device-1', tunnel: CLIENT_TUNNEL },
      account: { id: 'account-1', email: 'user@corp.test' },
      resources: this.resources,
      upstreamResolvers: [],
      blockRules: [],
    };
  }

  handle(clientPublicKey: string, message: ClientToPortal, now: number): PortalToClient[] {
    if (message.type !== 'request_authorization') return [];
    this.requests.push({ resourceId: message.resourceId, at: now });
    const resource = this.resources.find((r) => r.id === message.resourceId);
    const fail = (reason: 'not_found' | 'forbidden' | 'offline'): PortalToClient[] => [
      { type: 'authorization_failed', resourceId: message.resourceId, reason, message: reason },
    ];
    if (resource === undefined) return fail('not_found');
    if (this.forbidden.has(resource.id)) return fail('forbidden');
    const candidates = this.gateways.filter((g) => g.info.siteId === resource.siteId);
    if (candidates.length === 0 || this.offlineSites.has(resource.siteId)) return fail('offline');
    const gateway = candidates.find((g) => message.connectedGatewayIds.includes(g.info.id)) ?? candidates[0]!;
    const presharedKey = generatePresharedKey(this.#psk);
    const expiresAt = now + this.authorizationTtlMs;
    gateway.authorize(clientPublicKey, presharedKey);
    this.#live.set(resource.id, { gateway, clientPublicKey, presharedKey, expiresAt });
    return [{ type: 'authorization_created', resourceId: resource.id, gateway: gateway.info, presharedKey, expiresAt }];
  }

  liveAuthorization(resourceId: string): { presharedKey: string; expiresAt: number } | undefined {
    return this.#live.get(resourceId);
  }

  /**
   * A restarted gateway registered again: the portal re-installs its live authorizations and, once the gateway
   * acknowledged them, pushes them to the client again (with the gateway's new connection id).
   */
  gatewayReconnected(gateway: ScriptedGateway, now: number): PortalToClient[] {
    const pushes: PortalToClient[] = [];
    for (const [resourceId, live] of this.#live) {
      if (live.gateway !== gateway || live.expiresAt <= now) continue;
      gateway.authorize(live.clientPublicKey, live.presharedKey);
      pushes.push({
        type: 'authorization_created',
        resourceId,
        gateway: gateway.info,
        presharedKey: live.presharedKey,
        expiresAt: live.expiresAt,
      });
    }
    return pushes;
  }
}

export interface SimulationOptions {
  resources: Resource[];
  gateways?: ScriptedGatewayOptions[];
  client?: Partial<ClientStateOptions>;
  latencyMs?: number;
}

interface Scheduled {
  at: number;
  seq: number;
  run: (now: number) => void;
}

/** One client, its gateways, the portal and an upstream resolver on one fake clock. */
export class Simulation {
  now = T0;
  readonly client: ClientState;
  readonly portal: ScriptedPortal;
  readonly gateways: ScriptedGateway[];
  readonly latencyMs: number;
  /** Packets the client wrote to the TUN (replies, DNS answers, ICMP errors). */
  tun: Uint8Array[] = [];
  events: ClientEvent[] = [];
  upstreamQueries: UpstreamQuery[] = [];
  /** How the upstream resolver answers; `undefined` means it never does. */
  upstream: (query: UpstreamQuery) => UpstreamResult | undefined = answerEverything;
  readonly #queue: Scheduled[] = [];
  #seq = 0;
  #nextPort = 33000;
  #nextId = 1;
  readonly #view = new Packet();

  constructor(options: SimulationOptions) {
    this.latencyMs = options.latencyMs ?? 5;
    this.gateways = (
      options.gateways ?? [
        {
          id: 'gw-a',
          siteId: 'site-a',
          host: '203.0.113.1',
          tunnel: { ipv4: '100.64.0.101', ipv6: 'fd00:2021:1111::101' },
        },
      ]
    ).map((g) => new ScriptedGateway(g));
    this.portal = new ScriptedPortal(options.resources, this.gateways);
    this.client = new ClientState({
      privateKey: generatePrivateKey(seededRng('client/key')),
      rng: seededRng('client/rng'),
      ...options.client,
    });
    this.client.setHostResolvers([HOST_RESOLVER]);
    this.pump();
  }

  /** Sign in: the portal's `init`. */
  signIn(): void {
    this.client.handlePortalMessage(this.portal.init(), this.now);
    this.pump();
  }

  get sentinel(): string {
    return this.client.sentinels()[0]!.sentinel;
  }

  /** Delivers everything the client produced and schedules the other sides' answers. */
  pump(): void {
    const client = this.client;
    for (let m = client.pollPortalMessage(); m; m = client.pollPortalMessage()) {
      const message = m;
      this.#schedule(this.latencyMs, (now) => {
        for (const reply of this.portal.handle(client.publicKey, message, now)) {
          this.#schedule(this.latencyMs, (later) => {
            client.handlePortalMessage(reply, later);
            this.pump();
          });
        }
      });
    }
    for (let t = client.pollTransmit(); t; t = client.pollTransmit()) {
      const transmit = t;
      const gateway = this.gateways.find((g) => g.endpointKey === `${transmit.to.host}:${transmit.to.port}`);
      if (gateway === undefined) continue;
      this.#schedule(this.latencyMs, (now) => {
        gateway.receive(transmit.data, CLIENT_ENDPOINT, now);
        this.#deliverFromGateway(gateway);
      });
    }
    for (let q = client.pollUpstreamQuery(); q; q = client.pollUpstreamQuery()) {
      const query = q;
      this.upstreamQueries.push(query);
      const result = this.upstream(query);
      if (result === undefined) continue;
      this.#schedule(this.latencyMs, (now) => {
        client.handleUpstreamResponse(query.ref, result, now);
        this.pump();
      });
    }
    for (let p = client.pollTunPacket(); p; p = client.pollTunPacket()) this.tun.push(p);
    for (let e = client.pollEvent(); e; e = client.pollEvent()) this.events.push(e);
  }

  /** Advances the clock by `ms`, running deliveries and every side's timers on the way. */
  run(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const next = this.#nextInstant();
      if (next === undefined || next > until) break;
      this.now = Math.max(this.now, next);
      const head = this.#queue[0];
      if (head !== undefined && head.at <= this.now) {
        this.#queue.shift();
        head.run(this.now);
        continue;
      }
      const clientTimeout = this.client.pollTimeout();
      if (clientTimeout !== undefined && clientTimeout <= this.now) {
        this.client.handleTimeout(this.now);
        this.pump();
      }
      for (const gateway of this.gateways) {
        const at = gateway.device.pollTimeout();
        if (at !== undefined && at <= this.now) {
          gateway.handleTimeout(this.now);
          this.#deliverFromGateway(gateway);
        }
      }
    }
    this.now = until;
  }

  /**
   * The gateway restarts and reconnects to the portal, which (unless `portalTells` is false: the client's portal link
   * is down) pushes the re-installed authorizations to the client one latency later.
   */
  restartGateway(gateway: ScriptedGateway, options: { portalTells?: boolean } = {}): void {
    gateway.restart();
    if (options.portalTells === false) return;
    this.#schedule(this.latencyMs, (now) => {
      for (const push of this.portal.gatewayReconnected(gateway, now)) this.client.handlePortalMessage(push, now);
      this.pump();
    });
  }

  /** A control message from the gateway to the client, through the tunnel (as the gateway's tunnel address). */
  injectControl(gateway: ScriptedGateway, message: GatewayToClient): void {
    const packet = buildUdp({
      src: ipToBytes(ip(gateway.info.tunnel.ipv4)),
      dst: ipToBytes(ip(CLIENT_TUNNEL.ipv4)),
      srcPort: CONTROL_PORT,
      dstPort: CONTROL_PORT,
      payload: encodeTunnelControl(message),
    });
    const peer = gateway.device.peerByPublicKey(this.client.publicKey);
    if (peer === undefined) throw new Error('the gateway has no session with the client');
    const result = gateway.device.encapsulateTo(peer, packet, this.now);
    if (result.kind !== 'datagram') throw new Error(`no session to send through: ${result.kind}`);
    this.client.handleNetworkDatagram(result.data, gateway.info.endpoint, this.now);
    this.pump();
  }

  // ---- the application ----

  /** Sends a DNS query over UDP to the (first) sentinel; returns its id. */
  sendQuery(name: string, type: number = DnsType.A, port = this.#nextPort++): number {
    const id = this.#nextId++ & 0xffff;
    const query = buildQuery(id, name, type);
    if (!query.ok) throw new Error(query.error.message);
    this.sendUdp(this.sentinel, 53, query.value, port);
    return id;
  }

  /** Sends a query and runs until its answer arrives (at most 1 s); throws without one. */
  resolve(name: string, type: number = DnsType.A): DnsResponseInfo {
    const id = this.sendQuery(name, type);
    for (let waited = 0; waited <= 1000; waited += this.latencyMs) {
      const answer = this.takeDnsAnswer(id);
      if (answer !== undefined) return answer;
      this.run(this.latencyMs);
    }
    throw new Error(`no answer for ${name}`);
  }

  /** Removes and returns the DNS answer with this id from the TUN output. */
  takeDnsAnswer(id: number): DnsResponseInfo | undefined {
    for (let i = 0; i < this.tun.length; i++) {
      const p = this.#view;
      if (p.parse(this.tun[i]!) !== undefined || p.protocol !== IpProtocol.Udp || p.srcPort !== 53) continue;
      const info = inspectResponse(p.buffer.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength));
      if (!info.ok || info.value.id !== id) continue;
      this.tun.splice(i, 1);
      return info.value;
    }
    return undefined;
  }

  /** The raw DNS payload of an answer with this id (for records `inspectResponse` does not decode). */
  takeDnsPayload(id: number): Uint8Array | undefined {
    for (let i = 0; i < this.tun.length; i++) {
      const p = this.#view;
      if (p.parse(this.tun[i]!) !== undefined || p.protocol !== IpProtocol.Udp || p.srcPort !== 53) continue;
      const payload = p.buffer.slice(p.payloadOffset, p.payloadOffset + p.payloadLength);
      if (((payload[0]! << 8) | payload[1]!) !== id) continue;
      this.tun.splice(i, 1);
      return payload;
    }
    return undefined;
  }

  /** A UDP packet from the client's tunnel address into the TUN. */
  sendUdp(destination: string, port: number, payload: Uint8Array, sourcePort = 40_000): void {
    const v4 = !destination.includes(':');
    const packet = buildUdp({
      src: ipToBytes(ip(v4 ? CLIENT_TUNNEL.ipv4 : CLIENT_TUNNEL.ipv6)),
      dst: ipToBytes(ip(destination)),
      srcPort: sourcePort,
      dstPort: port,
      payload,
    });
    this.client.handleTunPacket(packet, this.now);
    this.pump();
  }

  /** A TCP SYN from the client's tunnel address (as an application's connect()). */
  sendSyn(destination: string, port: number, sourcePort: number, seq = 1000): void {
    const v4 = !destination.includes(':');
    this.client.handleTunPacket(
      buildTcp({
        src: ipToBytes(ip(v4 ? CLIENT_TUNNEL.ipv4 : CLIENT_TUNNEL.ipv6)),
        dst: ipToBytes(ip(destination)),
        srcPort: sourcePort,
        dstPort: port,
        seq,
        ack: 0,
        flags: 0x02,
        window: 65535,
      }),
      this.now,
    );
    this.pump();
  }

  /** Removes and returns the TUN packets coming from `source` (replies from a resource, ICMP errors). */
  takeFrom(source: string): Packet[] {
    const taken: Packet[] = [];
    this.tun = this.tun.filter((bytes) => {
      const p = new Packet();
      if (p.parse(bytes) !== undefined) return true;
      const from = formatIp(p.version === 4 ? readIpv4(p.buffer, p.srcOffset) : readIpv6(p.buffer, p.srcOffset));
      if (from !== source) return true;
      taken.push(p);
      return false;
    });
    return taken;
  }

  eventsOf<T extends ClientEvent['type']>(type: T): Extract<ClientEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<ClientEvent, { type: T }> => e.type === type);
  }

  #deliverFromGateway(gateway: ScriptedGateway): void {
    for (const { data } of gateway.outbox.splice(0)) {
      this.#schedule(this.latencyMs, (now) => {
        this.client.handleNetworkDatagram(data, gateway.info.endpoint, now);
        this.pump();
      });
    }
  }

  #schedule(delay: number, run: (now: number) => void): void {
    const item = { at: this.now + delay, seq: this.#seq++, run };
    // Keep the queue ordered by time, then by scheduling order (binary search: the queue can be long).
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const other = this.#queue[mid]!;
      if (other.at < item.at || (other.at === item.at && other.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, item);
  }

  #nextInstant(): number | undefined {
    const candidates = [
      this.#queue[0]?.at,
      this.client.pollTimeout(),
      ...this.gateways.map((g) => g.device.pollTimeout()),
    ];
    let earliest: number | undefined;
    for (const at of candidates) if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
    return earliest;
  }
}

/** The default upstream: A queries get `UPSTREAM_ANSWER`, everything else an empty NOERROR. */
export function answerEverything(query: UpstreamQuery): UpstreamResult {
  const parsed = parseQuery(query.payload);
  if (!parsed.ok) return { error: 'unparseable' };
  const records =
    parsed.value.question.type === DnsType.A
      ? [{ kind: 'address' as const, address: ip(UPSTREAM_ANSWER), ttl: 300 }]
      : [];
  return buildResponse(parsed.value, Rcode.NOERROR, records, { transport: query.transport });
}
