import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { DnsTcpReassembler, frameTcpMessage } from '../../tunnel/dns/index.js';

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
  { timeoutMs = UPSTREAM_TIMEOUT_MS, port = DNS_PORT }: { timeoutMs?: number; port?: number } = {},
): Promise<Uint8Array> {
  return transport === 'udp' ? queryUdp(server, port, payload, timeoutMs) : queryTcp(server, port, payload, timeoutMs);
}

function queryUdp(server: string, port: number, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  const socket = createSocket(isIPv6(server.split('%')[0]!) ? 'udp6' : 'udp4');
  return once(
    server,
    timeoutMs,
    () => socket.close(),
    (finish) => {
      socket.on('error', finish);
      socket.on('message', finish);
      socket.connect(port, server, () => socket.send(payload));
    },
  );
}

function queryTcp(server: string, port: number, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  const socket = connect({ host: server, port });
  const reassembler = new DnsTcpReassembler();
  return once(
    server,
    timeoutMs,
    () => socket.destroy(),
    (finish) => {
      socket.on('error', finish);
      socket.on('connect', () => socket.write(frameTcpMessage(payload)));
      socket.on('data', (chunk: Buffer) => {
        reassembler.push(chunk);
        const message = reassembler.pollMessage();
        if (message) finish(message);
      });
      socket.on('end', () => finish(new Error(`${server} closed the TCP connection before answering`)));
    },
  );
}

/** Settles with the first answer or error (later ones are ignored), or a timeout error; then closes the socket. */
function once(
  server: string,
  timeoutMs: number,
  close: () => void,
  start: (finish: (result: Uint8Array | Error) => void) => void,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (result: Uint8Array | Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      close();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(() => finish(new Error(`no answer from ${server} within ${timeoutMs} ms`)), timeoutMs);
    start(finish);
  });
}
