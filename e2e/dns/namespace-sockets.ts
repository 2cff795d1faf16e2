import type { Socket as UdpSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';
import type { BackgroundProcess, Namespace } from '../netns/index.js';

/**
 * Sockets that live in a test namespace but are used from the test process. A small Node child runs inside the
 * namespace (`ip netns exec`), creates the sockets there, and hands them to the test over Node's IPC channel (the
 * same handle passing `cluster` uses); the kernel keeps them in the namespace they were created in. So a test can
 * serve DNS on port 53 of a namespace with `tunnel/` code running in the test itself, or talk to a server there.
 */
export class NamespaceSockets {
  private nextRequest = 0;
  private readonly pending = new Map<number, (handle: unknown, error?: string) => void>();

  private constructor(private readonly helper: BackgroundProcess) {
    helper.child.on('message', (message: { request: number; error?: string }, handle: unknown) => {
      this.pending.get(message.request)?.(handle, message.error);
      this.pending.delete(message.request);
    });
  }

  static start(ns: Namespace): NamespaceSockets {
    const child = ns.spawn('sockets', process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    return new NamespaceSockets(child);
  }

  /** A UDP socket bound inside the namespace (`port` 0 for any). */
  udp(type: 'udp4' | 'udp6', address: string, port: number): Promise<UdpSocket> {
    return this.request({ kind: 'udp', type, address, port }) as Promise<UdpSocket>;
  }

  /** A listening TCP server inside the namespace. */
  tcpServer(address: string, port: number): Promise<Server> {
    return this.request({ kind: 'tcp', address, port }) as Promise<Server>;
  }

  /** A TCP connection made from inside the namespace. */
  tcpConnect(host: string, port: number): Promise<Socket> {
    return this.request({ kind: 'connect', host, port }) as Promise<Socket>;
  }

  async stop(): Promise<void> {
    await this.helper.stop();
  }

  private request(spec: object): Promise<unknown> {
    const request = this.nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no socket from the namespace:\n${this.helper.text}`)), 10_000);
      this.pending.set(request, (handle, error) => {
        clearTimeout(timer);
        if (error) reject(new Error(error));
        else resolve(handle);
      });
      this.helper.child.send({ request, ...spec });
    });
  }
}

// The child: creates what it is asked for, sends the handle, and closes its own copy so only the test uses it.
const CHILD = `
const dgram = require('node:dgram');
const net = require('node:net');
process.on('message', (m) => {
  const fail = (e) => process.send({ request: m.request, error: String(e) });
  if (m.kind === 'udp') {
    const socket = dgram.createSocket(m.type);
    socket.on('error', fail);
    socket.bind(m.port, m.address, () => process.send({ request: m.request }, socket, () => socket.close()));
  } else if (m.kind === 'tcp') {
    const server = net.createServer();
    server.on('error', fail);
    server.listen(m.port, m.address, () => process.send({ request: m.request }, server, () => server.close()));
  } else if (m.kind === 'connect') {
    const socket = net.connect(m.port, m.host);
    socket.on('error', fail);
    socket.on('connect', () => process.send({ request: m.request }, socket));
  }
});
`;
