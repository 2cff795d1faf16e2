import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { PeerDecision } from '../api/peer-check.js';
import type { ClientCoreFactory } from './client-core.js';
import type { TunPort } from './tunnel.js';

/**
 * Where the daemon meets the building blocks of other folders: the native addon (TUN device, SO_PEERCRED) and the
 * client core (tunnel/client). Until those are merged into this branch, the daemon says so clearly instead of
 * pretending: no peer check beyond the socket's file mode (logged at start), no TUN, no core.
 */
export function nativeAuthorize(log: Logger): (socket: Socket, apiGid: number) => PeerDecision {
  log.warn('this build has no SO_PEERCRED addon: the socket file mode (0660, group postern) is the only peer check');
  return () => ({ allowed: true });
}

export const nativeCore: ClientCoreFactory | undefined = undefined;

export function nativeOpenTun(): TunPort {
  throw new Error('this build has no TUN addon (native/)');
}
