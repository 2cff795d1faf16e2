import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { isIPv6 } from 'node:net';
import { pino, type Logger } from 'pino';
import { TunDevice } from '../native/index.js';
import { POSTERN_VERSION } from '../protocol/version.js';
import { formatAccessLog } from '../tunnel/gateway/access-log.js';
import { addressToString } from '../tunnel/packet/index.js';
import { GatewayState, type GatewayEvent } from '../tunnel/gateway/state.js';
import { Device, systemRng, type Peer } from '../tunnel/wireguard/index.js';
import { loadOrCreatePrivateKey } from './identity.js';
import type { GatewayOptions } from './cli.js';
import { HostNetwork } from './host-network.js';
import { gatewayMetrics, serveMetrics } from './metrics.js';
import { PortalLink } from './portal-link.js';
import { GatewayResolver } from './resolver.js';

/**
 * The gateway daemon: a thin event loop around the sans-IO `GatewayState` and WireGuard `Device`.
 *
 *   UDP datagram ─► Device.handleDatagram ─► (peer → client id) ─► GatewayState.handleClientPacket
 *   TUN packets ─────────────────────────────────────────────────► GatewayState.handleNetworkPacket
 *   GatewayState transmits: to a client ─► Device.encapsulateTo ─► UDP; to the network ─► TUN (kernel masquerades)
 *   GatewayState events: peer changes ─► Device; client_authorized ─► portal; access log ─► stdout
 *   GatewayState resolve requests ─► node's resolver ─► handleResolveAnswer
 *
 * One timer follows the earliest `pollTimeout()` of both machines.
 */

const now = (): number => performance.timeOrigin + performance.now();

export class GatewayDaemon {
  readonly log: Logger;
  private readonly state: GatewayState;
  private readonly device: Device;
  private readonly resolver: GatewayResolver;
  private readonly peers = new Map<string, Peer>();
  private readonly clientByKey = new Map<string, string>();
  private tun: TunDevice | undefined;
  private socket: Socket | undefined;
  private link: PortalLink | undefined;
  private host: HostNetwork | undefined;
  private metricsServer: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt: number | undefined;
  private handshakes = 0;
  private stopping = false;

  constructor(private readonly options: GatewayOptions) {
    this.log = pino({ level: options.logLevel, base: { name: 'postern-gateway' } }, pino.destination(2));
    this.state = new GatewayState({ minRuleTimeMs: options.minRuleTimeMs, maxRuleTimeMs: options.maxRuleTimeMs });
    this.device = new Device({
      privateKey: loadOrCreatePrivateKey(options.keyFile),
      rng: systemRng(),
      mtu: options.mtu,
    });
    this.resolver = new GatewayResolver(options.dnsServers);
  }

  async start(): Promise<void> {
    const token = readFileSync(this.options.tokenFile, 'utf8').trim();
    if (!token) throw new Error(`${this.options.tokenFile} is empty`);

    this.tun = TunDevice.open({ name: this.options.tunName, mtu: this.options.mtu });
    this.tun.onPackets((packets) => this.onTunPackets(packets));
    this.tun.onError((error) => {
      this.log.fatal({ err: error }, 'TUN device failed');
      void this.stop(1);
    });
    this.host = new HostNetwork(this.tun.name);
    await this.host.install();
    this.log.info({ tun: this.tun.name, table: this.host.tableName }, 'TUN up, routes and masquerade installed');

    this.socket = await this.bind();
    if (this.options.metrics) {
      const registry = gatewayMetrics(
        () => this.state.stats(),
        () => ({
          portalConnected: this.link?.connected ?? false,
          wireguardDrops: this.device.stats().drops,
          handshakes: this.handshakes,
        }),
      );
      this.metricsServer = await serveMetrics(registry, this.options.metrics);
      const address = this.metricsServer.address();
      this.log.info({ address }, 'metrics listening');
    }

    const publicKey = this.device.publicKey;
    this.link = new PortalLink({
      url: this.options.portalUrl,
      token,
      register: () => ({
        type: 'register_gateway',
        publicKey,
        endpoint: this.options.endpoint,
        name: this.options.name,
        version: POSTERN_VERSION,
      }),
      onMessage: (message) => {
        this.log.debug({ type: message.type }, 'portal message');
        this.state.handlePortalMessage(message, now());
        this.flush();
      },
      onState: (state, detail) => this.log.info({ detail }, `portal ${state}`),
      onMalformed: (detail) => this.log.warn({ detail }, 'malformed portal message dropped'),
    });
    this.link.start();
    this.log.info({ publicKey, listen: this.options.listen }, 'gateway started');
  }

  /** Clean shutdown: portal link, sockets, TUN; nftables table, routes and sysctls restored. */
  async stop(code = 0): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.timer);
    this.link?.close();
    this.resolver.cancel();
    this.socket?.close();
    this.metricsServer?.close();
    await this.host?.remove();
    this.tun?.close();
    this.log.info('gateway stopped');
    this.log.flush();
    process.exitCode = code;
  }

  private async bind(): Promise<Socket> {
    const { host, port } = this.options.listen;
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port));
    socket.on('error', (error) => this.log.error({ err: error }, 'UDP socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return socket;
  }

  private onDatagram(datagram: Buffer, host: string, port: number): void {
    const t = now();
    const result = this.device.handleDatagram(datagram, { host, port }, t);
    if (result.kind === 'packet') {
      const clientId = this.clientByKey.get(result.peer.publicKey);
      if (clientId !== undefined) this.state.handleClientPacket(clientId, result.packet, t);
    }
    this.flush();
  }

  private onTunPackets(packets: Buffer[]): void {
    const t = now();
    for (const packet of packets) this.state.handleNetworkPacket(packet, t);
    this.flush();
  }

  /** Drains both machines: events, resolutions, packets, timers. */
  private flush(): void {
    if (this.stopping) return;
    const t = now();
    for (let e = this.state.pollEvent(); e; e = this.state.pollEvent()) this.onEvent(e);
    for (let r = this.state.pollResolveRequest(); r; r = this.state.pollResolveRequest()) {
      const request = r;
      void this.resolver.resolve(request.domain, request.type).then((answer) => {
        this.state.handleResolveAnswer(request.id, answer, now());
        this.flush();
      });
    }
    const toTun: Uint8Array[] = [];
    for (let tx = this.state.pollTransmit(); tx; tx = this.state.pollTransmit()) {
      if (tx.to === 'network') {
        toTun.push(tx.packet);
        continue;
      }
      const peer = this.peers.get(tx.clientId);
      if (!peer) continue;
      const out = this.device.encapsulateTo(peer, tx.packet, t);
      if (out.kind === 'datagram') this.send(out.data, out.to);
    }
    if (toTun.length > 0) this.tun?.write(toTun);
    for (let tx = this.device.pollTransmit(); tx; tx = this.device.pollTransmit()) this.send(tx.data, tx.to);
    for (let e = this.device.pollEvent(); e; e = this.device.pollEvent()) {
      if (e.type === 'handshake_completed') this.handshakes++;
      this.log.debug({ event: e.type, peer: e.peer.publicKey }, 'wireguard');
    }
    this.armTimer();
  }

  private onEvent(event: GatewayEvent): void {
    switch (event.type) {
      case 'peer_upserted': {
        const c = event.client;
        const peer = this.device.upsertPeer({
          publicKey: c.publicKey,
          presharedKey: c.presharedKey,
          allowedIps: [`${addressToString(c.ipv4)}/32`, `${addressToString(c.ipv6)}/128`],
        });
        this.peers.set(c.id, peer);
        this.clientByKey.set(c.publicKey, c.id);
        this.log.info({ client: c.id }, 'peer installed');
        return;
      }
      case 'peer_removed':
        this.device.removePeer(event.publicKey);
        if (this.clientByKey.get(event.publicKey) === event.clientId) this.clientByKey.delete(event.publicKey);
        if (this.peers.get(event.clientId)?.publicKey === event.publicKey) this.peers.delete(event.clientId);
        this.log.info({ client: event.clientId }, 'peer removed');
        return;
      case 'to_portal':
        if (!this.link?.send(event.message)) this.log.warn({ type: event.message.type }, 'portal offline, not sent');
        return;
      case 'access':
        process.stdout.write(`${formatAccessLog(event.entry)}\n`);
        return;
      case 'portal_problem':
        this.log.warn({ detail: event.message }, 'portal');
        return;
    }
  }

  private send(data: Uint8Array, to: { host: string; port: number }): void {
    this.socket?.send(data, to.port, to.host);
  }

  private armTimer(): void {
    const candidates = [this.state.pollTimeout(), this.device.pollTimeout()].filter(
      (x): x is number => x !== undefined,
    );
    const at = candidates.length > 0 ? Math.min(...candidates) : undefined;
    if (at === this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    if (at === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timerAt = undefined;
        const t = now();
        this.state.handleTimeout(t);
        this.device.handleTimeout(t);
        this.flush();
      },
      Math.max(0, at - now()),
    );
  }
}
