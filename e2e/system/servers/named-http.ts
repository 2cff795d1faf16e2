import { createServer } from 'node:http';
import { z } from 'zod';
import type { NamedHttpReply } from '../plan.js';

/**
 * An HTTP server for the system topology: one process answers on every local address of its namespace and tells the
 * caller which server it reached (by the local address) and from which source address it came — what the system
 * tests assert. A server may have an IP allowlist; a caller not on it gets 403 (the "SaaS" of seed 000).
 *
 *   node named-http.js '{"port":80,"servers":{"10.0.1.1":{"name":"nas"}}}'
 */

const Config = z.object({
  port: z.number().int().min(1).max(65535),
  servers: z.record(z.string(), z.object({ name: z.string(), allow: z.array(z.string()).optional() })),
});

const parsed = Config.safeParse(JSON.parse(process.argv[2] ?? '{}'));
if (!parsed.success) {
  console.error(`named-http: bad config: ${parsed.error.message}`);
  process.exit(2);
}
const config = parsed.data;

// A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6; the tests compare plain addresses.
const plain = (address: string | undefined) => (address ?? '').replace(/^::ffff:/, '');

createServer((req, res) => {
  const local = plain(req.socket.localAddress);
  const server = config.servers[local];
  const reply: NamedHttpReply = {
    server: server?.name ?? `unknown ${local}`,
    client: plain(req.socket.remoteAddress),
    host: req.headers.host ?? '',
  };
  let status = server ? 200 : 404;
  if (server?.allow && !server.allow.includes(reply.client)) {
    status = 403;
    reply.error = 'not on the allowlist';
  }
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  res.end(`${JSON.stringify(reply)}\n`);
}).listen(config.port, '::', () => console.log(`named-http listening on port ${config.port}`));
