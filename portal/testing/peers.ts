import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { z } from 'zod';
import { PortalToClient, type ClientToPortal } from '../../protocol/portal-client.js';
import { PortalToGateway, type GatewayToPortal } from '../../protocol/portal-gateway.js';

export const wireGuardKey = (): string => randomBytes(32).toString('base64');

/**
 * A minimal client or gateway for tests: a `ws` socket that validates every frame it receives with the protocol
 * schema (a portal sending an invalid frame fails the test) and lets the test wait for a message type.
 */
export class FakePeer<In extends { type: string }, Out> {
  readonly received: In[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  private constructor(
    readonly ws: WebSocket,
    private readonly schema: z.ZodType<In>,
  ) {
    ws.on('message', (data) => {
      this.received.push(this.schema.parse(JSON.parse(String(data))));
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static open<In extends { type: string }, Out>(
    url: string,
    token: string,
    schema: z.ZodType<In>,
  ): Promise<FakePeer<In, Out>> {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    const peer = new FakePeer<In, Out>(ws, schema);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(peer));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(message: Out | string): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first not-yet-taken message of this type (and matching `where`), waiting up to `timeoutMs`. */
  async next<T extends In['type']>(
    type: T,
    where: (m: Extract<In, { type: T }>) => boolean = () => true,
    timeoutMs = 3000,
  ): Promise<Extract<In, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((m) => m.type === type && where(m as Extract<In, { type: T }>));
      if (index >= 0) return this.received.splice(index, 1)[0] as Extract<In, { type: T }>;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no ${type} within ${timeoutMs} ms; got ${JSON.stringify(this.received.map((m) => m.type))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Fails if a message of this type arrives within `ms`. */
  async none(type: In['type'], ms = 300): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    const found = this.received.find((m) => m.type === type);
    if (found) throw new Error(`unexpected ${type}: ${JSON.stringify(found)}`);
  }

  close(): void {
    this.ws.terminate();
  }
}

export type FakeClient = FakePeer<PortalToClient, ClientToPortal>;
export type FakeGateway = FakePeer<PortalToGateway, GatewayToPortal>;

export async function openClient(portalUrl: string, token: string): Promise<FakeClient> {
  return FakePeer.open<PortalToClient, ClientToPortal>(wsUrl(portalUrl, '/client/websocket'), token, PortalToClient);
}

/** Opens a client socket, registers a device and returns it with its `init`. */
export async function registeredClient(portalUrl: string, token: string, publicKey = wireGuardKey()) {
  const client = await openClient(portalUrl, token);
  client.send({ type: 'register_device', publicKey, name: 'laptop', os: 'linux', version: 'test' });
  const init = await client.next('init');
  return { client, init, publicKey };
}

/**
 * A gateway that registers and acknowledges every `authorize_client` (unless `ack` is false), as a real one does
 * once the peer is installed.
 */
export async function registeredGateway(
  portalUrl: string,
  token: string,
  options: { ack?: boolean; publicKey?: string } = {},
) {
  const gateway = await FakePeer.open<PortalToGateway, GatewayToPortal>(
    wsUrl(portalUrl, '/gateway/websocket'),
    token,
    PortalToGateway,
  );
  if (options.ack !== false) {
    gateway.ws.on('message', (data) => {
      const message = PortalToGateway.parse(JSON.parse(String(data)));
      if (message.type === 'authorize_client') gateway.send({ type: 'client_authorized', ref: message.ref });
    });
  }
  const publicKey = options.publicKey ?? wireGuardKey();
  gateway.send({
    type: 'register_gateway',
    publicKey,
    endpoint: { host: '192.0.2.1', port: 51820 },
    name: 'gw',
    version: 'test',
  });
  const init = await gateway.next('init');
  return { gateway, init, publicKey };
}

/** HTTP status of a WebSocket upgrade attempt (101 when accepted). */
export function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

export function wsUrl(portalUrl: string, path: string): string {
  return portalUrl.replace(/^http/, 'ws') + path;
}
