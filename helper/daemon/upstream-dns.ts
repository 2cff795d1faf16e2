import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';

export const UPSTREAM_TIMEOUT_MS = 5000;
const DNS_PORT = 53;

/**
 * Sends one DNS query to an upstream resolver and resolves with its answer. Each query gets its own socket and so a
 * fresh random source port (no ID collisions between the apps' queries, and harder to spoof). Upstreams are never
 * inside a range routed into the TUN (the client core refuses those), and a CIDR resource that covers one gets a
 * bypass rule, so these sockets take the host's uplink.
 */
export function queryUpstream(
  server: string,
  transport: 'udp' | 'tcp',
  payload: Uint8Array,
  timeoutMs = UPSTREAM_TIMEOUT_MS,
): Promise<Uint8Array> {
  return transport === 'udp' ? queryUdp(server, payload, timeoutMs) : queryTcp(server, payload, timeoutMs);
}

function queryUdp(server: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(server.split('%')[0]!) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(new Error(`no answer from ${server} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (result: Uint8Array | Error) => {
      clearTimeout(timer);
      socket.close();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    socket.on('error', (e) => finish(e));
    socket.on('message', (message) => finish(message));
    socket.connect(DNS_PORT, server, () => socket.send(payload));
  });
}

function queryTcp(server: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server, port: DNS_PORT });
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(() => finish(new Error(`no answer from ${server} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (result: Uint8Array | Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    socket.on('error', (e) => finish(e));
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(payload.length);
      socket.write(Buffer.concat([length, payload]));
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < 2) return;
      const all = Buffer.concat(chunks);
      const length = all.readUInt16BE(0);
      if (all.length >= 2 + length) finish(all.subarray(2, 2 + length));
    });
    socket.on('end', () => finish(new Error(`${server} closed the TCP connection before answering`)));
  });
}
