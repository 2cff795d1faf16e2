import type { ClientState } from '../../tunnel/client/index.js';

/**
 * The part of tunnel/client's ClientState the daemon drives. A structural port rather than the class itself, so the
 * daemon's own tests can drive the event loop with a scripted core; the shipped daemon always runs the real
 * ClientState (see platform.ts).
 */
export type ClientCore = Pick<
  ClientState,
  | 'publicKey'
  | 'handleTunPacket'
  | 'handleNetworkDatagram'
  | 'handlePortalMessage'
  | 'handleUpstreamResponse'
  | 'setHostResolvers'
  | 'handleTimeout'
  | 'pollTunPacket'
  | 'pollTransmit'
  | 'pollUpstreamQuery'
  | 'pollPortalMessage'
  | 'pollEvent'
  | 'pollTimeout'
  | 'routes'
  | 'sentinels'
  | 'mappings'
  | 'resources'
  | 'gateways'
  | 'stats'
>;

export type Endpoint = Parameters<ClientState['handleNetworkDatagram']>[1];

export interface ClientCoreOptions {
  /** The device's WireGuard private key, base64. */
  privateKey: string;
  mtu: number;
}

export type ClientCoreFactory = (options: ClientCoreOptions) => ClientCore;
