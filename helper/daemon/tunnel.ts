import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import type { PortalToClient, ClientToPortal } from '../../protocol/portal-client.js';
import type { DnsControl } from '../dns/dns-control.js';
import type { RouteControl } from '../os/routes.js';
import type { ClientEvent, UpstreamQuery } from '../../tunnel/client/index.js';
import type { ClientCore, Endpoint } from './client-core.js';
import { queryUpstream } from './upstream-dns.js';

/** The parts of the native TUN device the loop uses (native/tun.ts's TunDevice). */
export interface TunPort {
  readonly name: string;
  readonly mtu: number;
  onPackets(handler: ((packets: Buffer[]) => void) | undefined): unknown;
  onError(handler: ((error: NodeJS.ErrnoException) => void) | undefined): unknown;
  write(packets: readonly Uint8Array[]): number;
  close(): void;
}

export interface TunnelOptions {
  core: ClientCore;
  tun: TunPort;
  /** Whether the TUN carries IPv6; without it the host is pointed at the IPv4 sentinels only. */
  ipv6: boolean;
  dns: DnsControl;
  routes: RouteControl;
  log: Logger;
  /** Sends a message on the portal link (false when the link is down; the core retries on its own schedule). */
  sendToPortal: (message: ClientToPortal) => boolean;
  /** Addresses of the portal, kept out of the TUN like the gateways. */
  portalAddresses: readonly string[];
  onEvent: (event: ClientEvent) => void;
  /** A fatal failure (TUN gone, OS refused routes): the session reports it and tears the tunnel down. */
  onFatal: (error: Error) => void;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * The event loop around the sans-IO client core: TUN reads, gateway datagrams, upstream DNS answers and portal
 * messages go in; after every input all poll queues are drained (packets to the TUN in one batched write, datagrams,
 * upstream queries, portal messages, events) and the single timer is re-armed from pollTimeout(). Routes and the
 * host's DNS follow the core's events. Nothing here allocates per packet beyond what the core hands out.
 */
export class Tunnel {
  private readonly udp4: UdpSocket;
  private readonly udp6: UdpSocket;
  private timer: NodeJS.Timeout | undefined;
  private armedAt: number | undefined;
  private readonly tunBatch: Uint8Array[] = [];
  private stopped = false;
  /** OS updates (routes, DNS) run one at a time, in order, off the packet path. */
  private osQueue: Promise<void> = Promise.resolve();
  /** Gateway hosts already covered by the routes' bypass list. */
  private readonly knownPeers = new Set<string>();
  readonly counters = { udpSendErrors: 0, upstreamErrors: 0 };

  constructor(private readonly options: TunnelOptions) {
    const { tun, log } = options;
    this.udp4 = this.openUdp('udp4');
    this.udp6 = this.openUdp('udp6');
    tun.onError((e) => options.onFatal(new Error(`TUN device failed: ${e.message}`)));
    tun.onPackets((packets) => {
      const t = now();
      for (const p of packets) options.core.handleTunPacket(p, t);
      this.drain();
    });
    options.dns.onHostResolversChanged((resolvers) => {
      log.info({ resolvers }, 'host resolvers changed');
      options.core.setHostResolvers(resolvers);
      this.drain();
    });
  }

  /** Feeds the host's resolvers, applies the first routes and DNS, and starts the loop. */
  async start(): Promise<void> {
    const resolvers = await this.options.dns.readHostResolvers();
    this.options.log.info({ resolvers }, 'host resolvers');
    this.options.core.setHostResolvers(resolvers);
    await this.applyRoutes();
    await this.applyDns();
    this.drain();
  }

  handlePortalMessage(message: PortalToClient): void {
    this.options.core.handlePortalMessage(message, now());
    this.drain();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.options.tun.onPackets(undefined);
    this.udp4.close();
    this.udp6.close();
    await this.osQueue;
    await this.options.dns.restore();
    await this.options.routes.removeAll();
    this.options.tun.close();
  }

  private openUdp(type: 'udp4' | 'udp6'): UdpSocket {
    const socket = createSocket({ type, ipv6Only: type === 'udp6' });
    socket.on('message', (message, rinfo) => {
      this.options.core.handleNetworkDatagram(message, { host: rinfo.address, port: rinfo.port }, now());
      this.drain();
    });
    socket.on('error', (e) => this.options.log.warn({ err: e, type }, 'gateway socket error'));
    socket.bind(0);
    return socket;
  }

  private drain(): void {
    if (this.stopped) return;
    const { core, tun } = this.options;
    const batch = this.tunBatch;
    for (let p = core.pollTunPacket(); p !== undefined; p = core.pollTunPacket()) batch.push(p);
    if (batch.length > 0) {
      tun.write(batch);
      batch.length = 0;
    }
    for (let t = core.pollTransmit(); t !== undefined; t = core.pollTransmit()) this.transmit(t.to, t.data);
    for (let q = core.pollUpstreamQuery(); q !== undefined; q = core.pollUpstreamQuery()) this.forward(q);
    for (let m = core.pollPortalMessage(); m !== undefined; m = core.pollPortalMessage()) {
      this.options.sendToPortal(m);
    }
    for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) this.handleEvent(e);
    this.arm(core.pollTimeout());
  }

  private transmit(to: Endpoint, payload: Uint8Array): void {
    if (!this.knownPeers.has(to.host)) {
      // A new gateway: make sure a CIDR resource covering its endpoint cannot pull our datagrams into the TUN.
      // WireGuard retries a lost first handshake, so the moment until the rule exists costs at most one retry.
      this.knownPeers.add(to.host);
      this.queueOs(() => this.applyRoutes());
    }
    const socket = isIPv6(to.host) ? this.udp6 : this.udp4;
    socket.send(payload, to.port, to.host, this.onSent);
  }

  /** One callback for every send (no closure per packet). */
  private readonly onSent = (error: Error | null): void => {
    if (error) this.counters.udpSendErrors++;
  };

  private forward(query: UpstreamQuery): void {
    queryUpstream(query.server, query.transport, query.payload).then(
      (answer) => this.answer(query.ref, answer),
      (e: Error) => {
        this.counters.upstreamErrors++;
        this.options.log.debug({ err: e, server: query.server }, 'upstream query failed');
        this.answer(query.ref, { error: e.message });
      },
    );
  }

  private answer(ref: number, response: Uint8Array | { error: string }): void {
    if (this.stopped) return;
    this.options.core.handleUpstreamResponse(ref, response, now());
    this.drain();
  }

  /** One timer for the whole core: re-armed only when the deadline moved. */
  private arm(deadline: number | undefined): void {
    if (deadline === this.armedAt) return;
    clearTimeout(this.timer);
    this.armedAt = deadline;
    if (deadline === undefined) return;
    this.timer = setTimeout(
      () => {
        this.armedAt = undefined;
        this.options.core.handleTimeout(now());
        this.drain();
      },
      Math.max(0, deadline - now()),
    );
  }

  private handleEvent(event: ClientEvent): void {
    const { log } = this.options;
    switch (event.type) {
      case 'routes_changed':
        return this.queueOs(() => this.applyRoutes());
      case 'dns_sentinels_changed':
        for (const { upstream, reason } of event.ignored) log.warn({ upstream, reason }, 'upstream resolver not used');
        return this.queueOs(async () => {
          await this.applyRoutes();
          await this.applyDns();
        });
      case 'dns_query':
        // The access log: one line per intercepted query.
        log.info(
          {
            access: 'dns',
            name: event.name,
            qtype: event.qtype,
            transport: event.transport,
            action: event.action,
            resource: event.resourceId,
          },
          'dns query',
        );
        return;
      case 'mapped_ips_exhausted':
      case 'authorization_failed':
      case 'portal_error':
        log.warn({ event }, event.type);
        return;
    }
    this.options.onEvent(event);
  }

  private queueOs(task: () => Promise<void>): void {
    this.osQueue = this.osQueue.then(task).catch((e: Error) => this.options.onFatal(e));
  }

  private async applyRoutes(): Promise<void> {
    const { core, routes, portalAddresses } = this.options;
    const bypass = [...this.knownPeers, ...core.sentinels().map((s) => s.upstream), ...portalAddresses].filter(
      (a) => isIP(a) !== 0,
    );
    await routes.set(core.routes(), bypass);
  }

  private async applyDns(): Promise<void> {
    const sentinels = this.options.core
      .sentinels()
      .map((s) => s.sentinel)
      .filter((s) => this.options.ipv6 || !isIPv6(s));
    if (sentinels.length > 0) await this.options.dns.apply(sentinels);
  }
}
