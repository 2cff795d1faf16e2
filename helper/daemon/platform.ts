import { randomFillSync } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { peerCredentials, TunDevice } from '../../native/index.js';
import { ClientState } from '../../tunnel/client/index.js';
import { checkPeer, type PeerDecision } from '../api/peer-check.js';
import type { ClientCoreFactory } from './client-core.js';
import type { TunPort } from './tunnel.js';

// Where the daemon meets the building blocks of other folders: the native addon (TUN, SO_PEERCRED) and the core.

/** The API's peer check: SO_PEERCRED through the addon, then root or group `postern`. */
export function nativeAuthorize(log: Logger): (socket: Socket, apiGid: number) => PeerDecision {
  return (socket, apiGid) => {
    try {
      return checkPeer(peerCredentials(socket), apiGid);
    } catch (e) {
      log.error({ err: e }, 'cannot read the peer credentials of an API connection');
      return { allowed: false, reason: `cannot read peer credentials: ${(e as Error).message}` };
    }
  };
}

/** The real client core, with randomness from node:crypto. */
export const nativeCore: ClientCoreFactory = ({ privateKey, mtu }) =>
  new ClientState({ privateKey, mtu, rng: { fill: (target) => randomFillSync(target) } });

/** A TUN device by name; the addon sets the MTU and brings it up. */
export function nativeOpenTun(name: string, mtu: number): TunPort {
  return TunDevice.open({ name, mtu });
}
