import { createServer, type Server, type Socket } from 'node:net';

/**
 * A server (not yet listening) that pipes every connection both ways to a fresh upstream connection. Namespaces
 * share the file system, so a relay between a Unix socket and a TCP address crosses namespaces without any port in
 * the machine's own namespace.
 */
export function relayServer(connectUpstream: () => Socket): Server {
  return createServer((socket) => {
    const upstream = connectUpstream();
    socket.pipe(upstream).pipe(socket);
    const end = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end);
    upstream.on('error', end);
  });
}
