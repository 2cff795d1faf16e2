import { rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { relayServer } from '../../netns/relay.js';

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
relayServer(() => createConnection({ host, port: Number(port) })).listen(path, () =>
  console.log(`relaying ${path} to ${host}:${port}`),
);
