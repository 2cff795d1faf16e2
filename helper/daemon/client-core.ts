import type { ClientToPortal, PortalToClient } from '../../protocol/portal-client.js';
import type { Resource } from '../../protocol/resources.js';

/**
 * The public surface of `tunnel/client`'s ClientState (issue 4) that the daemon drives, written down here while that
 * branch is not merged yet so the event loop, sockets and OS control can be built and tested. It mirrors the real
 * class's shapes; once it is merged, `platform.ts` constructs the real ClientState and the type checker proves the
 * two agree (then these declarations give way to imports from tunnel/client).
 */
export interface ClientCore {
  readonly publicKey: string;
  handleTunPacket(packet: Uint8Array, now: number): void;
  handleNetworkDatagram(datagram: Uint8Array, from: Endpoint, now: number): void;
  handlePortalMessage(message: PortalToClient, now: number): void;
  handleUpstreamResponse(ref: number, result: Uint8Array | { error: string }, now: number): void;
  setHostResolvers(addresses: readonly string[]): void;
  handleTimeout(now: number): void;

  pollTunPacket(): Uint8Array | undefined;
  pollTransmit(): { to: Endpoint; data: Uint8Array } | undefined;
  pollUpstreamQuery(): UpstreamQuery | undefined;
  pollPortalMessage(): ClientToPortal | undefined;
  pollEvent(): ClientCoreEvent | undefined;
  pollTimeout(): number | undefined;

  /** Prefixes to route into the TUN: mapped ranges, sentinel ranges, CIDR resources. */
  routes(): string[];
  sentinels(): { sentinel: string; upstream: string }[];
  mappings(): CoreMapping[];
  resources(): { resource: Resource; status: CoreResourceStatus; gatewayId: string | undefined }[];
  /** Gateways with a tunnel; `endpoint` is `host:port`. */
  gateways(): { id: string; endpoint: string }[];
  /** Counters: numbers, and `drops` by reason. */
  stats(): { drops: Record<string, number> };
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface UpstreamQuery {
  ref: number;
  server: string;
  transport: 'udp' | 'tcp';
  payload: Uint8Array;
}

export type CoreResourceStatus = 'idle' | 'connecting' | 'online' | 'offline' | 'forbidden';
export type CoreNatState = 'pending' | 'confirmed' | 'recreating' | 'failed';

export interface CoreMapping {
  domain: string;
  resourceId: string | undefined;
  ipv4: string[];
  ipv6: string[];
  gatewayId: string | undefined;
  natState: CoreNatState | undefined;
  lastUsedAt: number;
}

/** The events the daemon acts on or passes to the UI; the core has a few more, which the daemon ignores. */
export type ClientCoreEvent =
  | { type: 'mapping_created' | 'mapping_changed'; mapping: CoreMapping }
  /** The portal changed the mapped ranges: every mapping is gone. */
  | { type: 'mappings_cleared'; ranges: string[] }
  | { type: 'nat_state_changed'; domain: string }
  | { type: 'resource_status_changed'; resourceId: string; status: CoreResourceStatus }
  | { type: 'resources_changed' }
  | { type: 'routes_changed'; routes: string[] }
  | {
      type: 'dns_sentinels_changed';
      sentinels: { sentinel: string; upstream: string }[];
      ignored: { upstream: string; reason: string }[];
    }
  | { type: 'gateway_connected' | 'gateway_disconnected'; gatewayId: string }
  | { type: 'mapped_ips_exhausted'; domain: string; message: string }
  | { type: 'authorization_failed'; resourceId: string; reason: string; message: string }
  | { type: 'portal_error'; code: string; message: string }
  | { type: 'dns_query'; name: string; qtype: number; transport: 'udp' | 'tcp'; action: string; resourceId?: string };

export interface ClientCoreOptions {
  /** The device's WireGuard private key, base64. */
  privateKey: string;
  mtu: number;
}

export type ClientCoreFactory = (options: ClientCoreOptions) => ClientCore;
