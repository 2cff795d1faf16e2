import { openSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UnsupportedPlatformError } from './platform.js';
import { peerCredentials, socketFd } from './peercred.js';

// As any user: a client in this very process connects, so the peer is this process. The namespace test
// (e2e/native/peercred.netns.test.ts) covers clients of other uids.

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A listening server plus the server side of one accepted connection from a client in this process. */
async function accepted(listen: (server: Server) => void): Promise<{ server: Socket; client: Socket }> {
  const server = createServer();
  const serverSide = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => {
    server.once('listening', resolve);
    listen(server);
  });
  const address = server.address();
  const client =
    typeof address === 'string' ? connect(address) : connect(address?.port ?? 0, address?.address ?? '127.0.0.1');
  const serverSocket = await serverSide;
  cleanups.push(() => {
    client.destroy();
    serverSocket.destroy();
    server.close();
  });
  return { server: serverSocket, client };
}

function socketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'postern-peercred-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'api.sock');
}

describe('peerCredentials', () => {
  it('reports this process as the peer of a Unix socket it connected', async () => {
    const path = socketPath();
    const { server } = await accepted((s) => s.listen(path));
    expect(peerCredentials(server)).toEqual({ pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
    expect(peerCredentials(socketFd(server))).toEqual(peerCredentials(server));
  });

  it('refuses a TCP socket, whose "peer credentials" would be the overflow uid', async () => {
    const { server } = await accepted((s) => s.listen(0, '127.0.0.1'));
    expect(() => peerCredentials(server)).toThrow(/not a Unix-domain socket/);
    expect(() => peerCredentials(server)).toThrow(expect.objectContaining({ code: 'EAFNOSUPPORT' }));
  });

  it('refuses a descriptor that is not a socket', () => {
    const fd = openSync(new URL('./tsconfig.json', import.meta.url), 'r');
    cleanups.push(() => closeSync(fd));
    expect(() => peerCredentials(fd)).toThrow(
      expect.objectContaining({ code: 'ENOTSOCK', syscall: 'getsockopt(SO_DOMAIN)' }),
    );
  });

  it('refuses a closed socket', async () => {
    const path = socketPath();
    const { server } = await accepted((s) => s.listen(path));
    server.destroy();
    expect(() => peerCredentials(server)).toThrow('the socket is closed');
  });

  it.each(['darwin', 'win32'] as const)('is not supported on %s yet', (platform) => {
    const run = () =>
      peerCredentials(0, {
        platform,
        loadAddon: () => {
          throw new Error('not loaded');
        },
      });
    expect(run).toThrow(UnsupportedPlatformError);
    expect(run).toThrow('reading peer credentials is not supported on this OS yet');
  });
});
