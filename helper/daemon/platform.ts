import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { peerCredentials, TunDevice } from '../../native/index.js';
import { checkPeer, type PeerDecision } from '../api/peer-check.js';
import type { ClientCoreFactory } from './client-core.js';
import type { TunPort } from './tunnel.js';

/**
 * Where the daemon meets the building blocks of other folders: the native addon (TUN device, SO_PEERCRED) and the
 * client core (tunnel/client). Until the core is merged into this branch, the daemon says so clearly instead of
 * pretending: a connect ends with "this build has no client core".
 */

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

export const nativeCore: ClientCoreFactory | undefined = undefined;

/** A TUN device by name; the addon sets the MTU and brings it up. */
export function nativeOpenTun(name: string, mtu: number): TunPort {
  return TunDevice.open({ name, mtu });
}
