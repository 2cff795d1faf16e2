import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { GatewayToPortal, type PortalToGateway } from '../../protocol/portal-gateway.js';

/**
 * A stand-in for the portal in gateway tests: a WebSocket server on a Unix socket (namespaces share the file system,
 * so a gateway in any namespace reaches it as `ws+unix://…` without touching the host's network) that speaks
 * `protocol/portal-gateway.ts`, checks the bearer token, validates what the gateway sends and lets the test script
 * the portal's side.
 */
export class ScriptedPortal {
  readonly received: GatewayToPortal[] = [];
  readonly invalid: string[] = [];
  private socket: WebSocket | undefined;
  private readonly waiters: (() => void)[] = [];

  private constructor(
    private readonly dir: string,
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly token: string,
  ) {}

  static async start(token: string): Promise<ScriptedPortal> {
    const dir = mkdtempSync(join(tmpdir(), 'postern-portal-'));
    const server = createServer();
    const wss = new WebSocketServer({ noServer: true });
    const portal = new ScriptedPortal(dir, server, wss, token);
    server.on('upgrade', (req, socket, head) => {
      if (req.url !== '/gateway/websocket' || req.headers.authorization !== `Bearer ${token}`) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => portal.accept(ws));
    });
    await new Promise<void>((resolve) => server.listen(portal.socketPath, resolve));
    return portal;
  }

  get socketPath(): string {
    return join(this.dir, 'portal.sock');
  }

  /** The URL a gateway is given with `--portal`. */
  get url(): string {
    return `ws+unix://${this.socketPath}:/gateway/websocket`;
  }

  send(message: PortalToGateway | Record<string, unknown> | string): void {
    if (!this.socket) throw new Error('no gateway connected');
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Waits for a message of `type` from the gateway (one not yet taken), and takes it. */
  async next<T extends GatewayToPortal['type']>(
    type: T,
    timeoutMs = 10_000,
  ): Promise<Extract<GatewayToPortal, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((m) => m.type === type);
      if (index >= 0) return this.received.splice(index, 1)[0] as Extract<GatewayToPortal, { type: T }>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} from the gateway within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Drops the gateway's connection (it must reconnect). */
  disconnect(): void {
    this.socket?.terminate();
    this.socket = undefined;
  }

  async stop(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private accept(ws: WebSocket): void {
    this.socket = ws;
    ws.on('message', (data) => {
      const text = data.toString();
      let parsed;
      try {
        parsed = GatewayToPortal.safeParse(JSON.parse(text));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success) this.received.push(parsed.data);
      else this.invalid.push(text);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }
}
