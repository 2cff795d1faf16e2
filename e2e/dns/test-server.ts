import type { Socket as UdpSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';
import { DnsTcpReassembler, frameTcpMessage } from '../../tunnel/dns/index.js';

export type Transport = 'udp' | 'tcp';

/** What a test server received, in order. */
export interface Received {
  readonly transport: Transport;
  readonly payload: Uint8Array;
}

/**
 * A DNS server for tests: the sockets come from anywhere (a namespace, see NamespaceSockets), the answers from
 * `respond`, which is where `tunnel/dns` under test runs. UDP and TCP (with `DnsTcpReassembler`); every payload is
 * kept in `received` so tests can check what real clients sent.
 */
export class TestDnsServer {
  readonly received: Received[] = [];
  private readonly closers: (() => void)[] = [];

  constructor(private readonly respond: (payload: Uint8Array, transport: Transport) => Uint8Array | undefined) {}

  serveUdp(socket: UdpSocket): void {
    socket.on('message', (payload, peer) => {
      const reply = this.receive(payload, 'udp');
      if (reply) socket.send(reply, peer.port, peer.address);
    });
    this.closers.push(() => socket.close());
  }

  serveTcp(server: Server): void {
    const connections = new Set<Socket>();
    server.on('connection', (connection) => {
      connections.add(connection);
      const reassembler = new DnsTcpReassembler();
      connection.on('data', (chunk: Buffer) => {
        reassembler.push(chunk);
        for (let message = reassembler.pollMessage(); message; message = reassembler.pollMessage()) {
          const reply = this.receive(message, 'tcp');
          if (reply) connection.write(frameTcpMessage(reply));
        }
      });
      connection.on('end', () => connection.end());
      connection.on('close', () => connections.delete(connection));
      connection.on('error', () => connection.destroy());
    });
    this.closers.push(() => {
      for (const connection of connections) connection.destroy();
      server.close();
    });
  }

  close(): void {
    for (const close of this.closers.splice(0)) close();
  }

  private receive(payload: Uint8Array, transport: Transport): Uint8Array | undefined {
    this.received.push({ transport, payload: Uint8Array.from(payload) });
    return this.respond(payload, transport);
  }
}
