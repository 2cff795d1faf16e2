import type { HelperDeps } from '../daemon/helper.js';
import type { RunCommand } from '../os/command.js';
import type { PortalToClient } from '../../protocol/portal-client.js';
import type { Resource } from '../../protocol/resources.js';
import type { ClientEvent, ClientStats, UpstreamQuery } from '../../tunnel/client/index.js';
import type { ClientCore, Endpoint } from '../daemon/client-core.js';
import type { TunPort } from '../daemon/tunnel.js';

/**
 * Test doubles for the daemon's own tests: a scripted client core that echoes TUN packets and sends each one to a
 * gateway, and an in-memory TUN. Never used by the shipped daemon, which runs tunnel/client's real ClientState.
 */
export class ScriptedCore implements ClientCore {
  portalMessages: PortalToClient[] = [];
  granted: Resource[] = [];
  readonly publicKey = 'k';
  tunOut: Uint8Array[] = [];
  transmits: { to: Endpoint; data: Uint8Array }[] = [];
  events: ClientEvent[] = [];
  transmitted = 0;
  received: { data: string; from: Endpoint }[] = [];
  timeouts: number[] = [];
  deadline: number | undefined;
  resolvers: string[] = [];
  gateway: Endpoint = { host: '127.0.0.1', port: 0 };
  currentRoutes = ['100.96.0.0/11', '10.0.0.0/8'];
  currentSentinels: { sentinel: string; upstream: string }[] = [];

  handleTunPacket(packet: Uint8Array): void {
    this.tunOut.push(packet, packet);
    this.transmits.push({ to: this.gateway, data: packet });
    this.transmitted++;
  }
  handleNetworkDatagram(datagram: Uint8Array, from: Endpoint): void {
    this.received.push({ data: Buffer.from(datagram).toString(), from });
  }
  handlePortalMessage(message: PortalToClient): void {
    this.portalMessages.push(message);
    if (message.type === 'init') {
      this.granted = message.resources;
      this.events.push({ type: 'resources_changed' });
    }
  }
  handleUpstreamResponse(): void {}
  setHostResolvers(addresses: readonly string[]): void {
    this.resolvers = [...addresses];
    this.currentSentinels = addresses.map((upstream, i) => ({ sentinel: `100.100.111.${i + 1}`, upstream }));
    this.events.push({ type: 'dns_sentinels_changed', sentinels: this.currentSentinels, ignored: [] });
  }
  handleTimeout(now: number): void {
    this.timeouts.push(now);
    this.deadline = undefined;
  }
  pollTunPacket = () => this.tunOut.shift();
  pollTransmit = () => this.transmits.shift();
  pollUpstreamQuery = (): UpstreamQuery | undefined => undefined;
  pollPortalMessage = () => undefined;
  pollEvent = () => this.events.shift();
  pollTimeout = () => this.deadline;
  routes = () => this.currentRoutes;
  sentinels = () => this.currentSentinels;
  mappings = () => [];
  resources = () => this.granted.map((resource) => ({ resource, status: 'idle' as const, gatewayId: undefined }));
  gateways = () => [];
  stats = (): ClientStats => ({
    drops: { scripted: 1 },
    dnsQueries: 0,
    dnsAnsweredLocally: 0,
    dnsForwarded: 0,
    dnsUpstreamFailures: 0,
    packetsToGateways: this.transmitted,
    packetsFromGateways: this.received.length,
    authorizationRequests: 0,
    mappedDomains: 0,
    natEntries: 0,
    pendingFlows: 0,
    pendingUpstreamQueries: 0,
    bufferedBytes: 0,
    gateways: 0,
    tcpConnections: 0,
    droppedEvents: 0,
    droppedTunPackets: 0,
  });
}

export class FakeTun implements TunPort {
  readonly name = 'tun-test';
  readonly mtu = 1280;
  writes: Uint8Array[][] = [];
  handler: ((packets: Buffer[]) => void) | undefined;
  closed = false;
  onPackets(handler: ((packets: Buffer[]) => void) | undefined) {
    this.handler = handler;
  }
  onError() {}
  write(packets: readonly Uint8Array[]) {
    this.writes.push([...packets]);
    return packets.length;
  }
  close() {
    this.closed = true;
  }
}

/** Helper dependencies for tests without root: scripted cores, in-memory TUNs, a recorded `run`. */
export function scriptedHelperDeps(run: RunCommand): {
  deps: HelperDeps;
  cores: ScriptedCore[];
  tuns: FakeTun[];
} {
  const cores: ScriptedCore[] = [];
  const tuns: FakeTun[] = [];
  const deps: HelperDeps = {
    run,
    authorize: () => ({ allowed: true }),
    createCore: () => {
      const core = new ScriptedCore();
      cores.push(core);
      return core;
    },
    openTun: () => {
      const tun = new FakeTun();
      tuns.push(tun);
      return tun;
    },
    ipv6Enabled: () => true,
  };
  return { deps, cores, tuns };
}
