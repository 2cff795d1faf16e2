import type { ResourceStatus, Mapping } from '../../protocol/helper-api.js';
import type { ClientToPortal, PortalToClient } from '../../protocol/portal-client.js';
import type { Resource } from '../../protocol/resources.js';

/**
 * What the daemon needs from the sans-IO client core (`tunnel/client`'s ClientState, issue 4). The daemon is written
 * against this port so that its event loop, sockets and OS control exist and are tested before the core lands; the
 * real ClientState is wired in `main.ts`, never a fake.
 */
export interface ClientCore {
  handleTunPacket(packet: Uint8Array, now: number): void;
  handleNetworkDatagram(datagram: Uint8Array, from: NetworkAddress, now: number): void;
  handlePortalMessage(message: PortalToClient, now: number): void;
  handleUpstreamResponse(ref: number, response: Uint8Array | Error, now: number): void;
  setHostResolvers(addresses: readonly string[], now: number): void;
  handleTimeout(now: number): void;

  pollTunPacket(): Uint8Array | undefined;
  pollTransmit(): { to: NetworkAddress; payload: Uint8Array } | undefined;
  pollUpstreamQuery(): UpstreamQuery | undefined;
  pollPortalMessage(): ClientToPortal | undefined;
  pollEvent(): ClientCoreEvent | undefined;
  pollTimeout(): number | undefined;

  /** Prefixes to route into the TUN (mapped ranges, sentinels, CIDR resources). */
  routes(): string[];
  /** Sentinel addresses, one per upstream, and the upstreams behind them. */
  sentinels(): { sentinel: string; upstream: string }[];
  /** Addresses the daemon's own sockets talk to (gateway endpoints): must bypass the TUN. */
  peerAddresses(): string[];
  resources(): { resource: Resource; status: ResourceStatus }[];
  mappings(): Mapping[];
  stats(): Record<string, number>;
}

export interface NetworkAddress {
  address: string;
  port: number;
}

export interface UpstreamQuery {
  ref: number;
  server: string;
  transport: 'udp' | 'tcp';
  payload: Uint8Array;
}

export type ClientCoreEvent =
  | { type: 'routes_changed' }
  | { type: 'sentinels_changed' }
  | { type: 'resources_changed' }
  | { type: 'mapping_changed'; mapping: Mapping }
  /** One intercepted DNS query, for the access log. */
  | { type: 'dns_query'; name: string; qtype: string; action: string; resourceId?: string }
  | { type: 'log'; level: 'debug' | 'info' | 'warn'; message: string };

export interface ClientCoreOptions {
  /** The device's WireGuard private key (32 bytes). */
  privateKey: Uint8Array;
  now: number;
}

export type ClientCoreFactory = (options: ClientCoreOptions) => ClientCore;
