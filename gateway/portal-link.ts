import { WebSocket } from 'ws';
import { PortalToGateway, type GatewayToPortal } from '../protocol/portal-gateway.js';

/**
 * The gateway's WebSocket to the portal: connects with the site token, registers, hands every valid message to
 * `onMessage`, and reconnects with exponential backoff (1 s doubling to 30 s, with jitter) whenever the socket closes
 * or goes silent. Invalid frames are counted and dropped; the link stays up.
 */

export interface PortalLinkOptions {
  url: URL;
  token: string;
  register: () => GatewayToPortal;
  onMessage: (message: PortalToGateway) => void;
  onState?: (state: 'connected' | 'disconnected', detail: string) => void;
  onMalformed?: (detail: string) => void;
  /** Largest frame accepted from the portal. */
  maxPayload?: number;
}

const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
const PING_INTERVAL_MS = 15_000;

export class PortalLink {
  private socket: WebSocket | undefined;
  private backoffMs = MIN_BACKOFF_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private alive = false;
  malformed = 0;
  connects = 0;

  constructor(private readonly options: PortalLinkOptions) {}

  start(): void {
    this.connect();
  }

  /** Sends when connected; messages while disconnected are dropped (the portal re-syncs on register). */
  send(message: GatewayToPortal): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    this.socket?.close(1001, 'gateway shutting down');
    this.socket?.terminate();
  }

  private connect(): void {
    if (this.closed) return;
    const socket = new WebSocket(this.options.url, {
      headers: { Authorization: `Bearer ${this.options.token}` },
      maxPayload: this.options.maxPayload ?? 4 * 1024 * 1024,
      handshakeTimeout: 10_000,
    });
    this.socket = socket;
    socket.on('open', () => {
      this.connects++;
      this.alive = true;
      socket.send(JSON.stringify(this.options.register()));
      this.options.onState?.('connected', this.options.url.href);
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (!this.alive) return socket.terminate();
        this.alive = false;
        socket.ping();
      }, PING_INTERVAL_MS);
    });
    socket.on('pong', () => (this.alive = true));
    socket.on('message', (data, isBinary) => {
      this.alive = true;
      const message = isBinary ? undefined : parse(data.toString());
      if (!message) {
        this.malformed++;
        this.options.onMalformed?.(isBinary ? 'binary frame' : data.toString().slice(0, 200));
        return;
      }
      // A working session resets the backoff.
      if (message.type === 'init') this.backoffMs = MIN_BACKOFF_MS;
      this.options.onMessage(message);
    });
    socket.on('error', () => {
      // 'close' follows and reconnects; the reason is reported there.
    });
    socket.on('close', (code, reason) => {
      clearInterval(this.pingTimer);
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.options.onState?.('disconnected', `code ${code} ${reason.toString()}`.trim());
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = this.backoffMs * (0.5 + Math.random() / 2);
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}

function parse(text: string): PortalToGateway | undefined {
  try {
    const result = PortalToGateway.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
