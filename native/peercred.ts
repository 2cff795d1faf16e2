import type { Socket } from 'node:net';
import { withContext } from './addon.js';
import { defaultRuntime, requireSupportedPlatform, type NativeRuntime } from './platform.js';

/** Who is at the other end of a Unix socket, as the kernel recorded it when that process connected. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * The peer of a connected Unix-domain stream socket (Linux: getsockopt SO_PEERCRED), for the helper's local API.
 * Pass the `net.Socket` a `net.Server` handed to its 'connection' listener, or a raw descriptor.
 *
 * The credentials are those of the process that called connect(), captured at that moment: a later setuid() or
 * exec in the client does not change them, and the pid may be reused after the client exits — decide once per
 * connection, at accept time. `gid` is the primary group only; check supplementary groups (e.g. membership of
 * `postern`) by looking the uid up. Throws a system error (`code` ENOTSOCK, EBADF, …) for a descriptor that is not a
 * connected Unix socket, and UnsupportedPlatformError on an OS without a backend.
 */
export function peerCredentials(socket: Socket | number, runtime: NativeRuntime = defaultRuntime): PeerCredentials {
  requireSupportedPlatform(runtime.platform, 'reading peer credentials');
  const fd = typeof socket === 'number' ? socket : socketFd(socket);
  try {
    return runtime.loadAddon().peerCredentials(fd);
  } catch (error) {
    throw withContext(`cannot read the peer credentials of descriptor ${fd}`, error);
  }
}

/**
 * The file descriptor under a `net.Socket`. Node has no public API for it: a Unix-domain socket's libuv handle is
 * `socket._handle` (a `Pipe`) whose `fd` getter returns the descriptor on Unix (-1 on Windows). Stable for many
 * Node versions and used by several native modules; checked here so a change fails loudly, not silently.
 * The descriptor stays owned by the socket: do not close it, and use it only while the socket is open.
 */
export function socketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new Error(
      handle ? 'this socket has no file descriptor (not a Unix socket?)' : 'the socket is closed (no handle)',
    );
  }
  return fd;
}
