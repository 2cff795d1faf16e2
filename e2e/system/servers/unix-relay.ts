import { rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

/**
 * Relays every connection on a Unix socket to a TCP address. Namespaces share the file system, so a relay started in
 * the portal's namespace lets the test process (or the demo) on the host reach the portal without any port in the
 * host's namespace.
 *
 *   node unix-relay.js SOCKET HOST PORT
 */

const [path, host, port] = process.argv.slice(2);
if (!path || !host || !port) {
  console.error('usage: unix-relay SOCKET HOST PORT');
  process.exit(2);
}
rmSync(path, { force: true });
createServer((socket) => {
  const upstream = createConnection({ host, port: Number(port) });
  socket.pipe(upstream).pipe(socket);
  const end = () => {
    socket.destroy();
    upstream.destroy();
  };
  socket.on('error', end);
  upstream.on('error', end);
}).listen(path, () => console.log(`relaying ${path} to ${host}:${port}`));
