import type { Logger } from 'pino';
import WebSocket from 'ws';
import { z } from 'zod';
import type { ConnectionError } from '../../protocol/helper-api.js';
import { type ClientToPortal, PortalToClient } from '../../protocol/portal-client.js';
import { Backoff } from './backoff.js';

export interface PortalLinkHandlers {
  /** The socket is open: send `register_device`. */
  onOpen(): void;
  /** A validated message from the portal. */
  onMessage(message: PortalToClient): void;
  /** The link is down; `retryInMs` is undefined when it will not retry (the token was refused). */
  onDown(error: ConnectionError, retryInMs: number | undefined): void;
}

export interface PortalLinkOptions {
  portalUrl: string;
  token: string;
  log: Logger;
  handlers: PortalLinkHandlers;
  /** A ping goes out this often; a link that did not answer the previous one is declared dead. */
  heartbeatMs?: number;
  backoff?: Backoff;
  userAgent?: string;
}

const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * The client's WebSocket to the portal: the token in the `Authorization: Bearer` header of the upgrade, every
 * message validated against protocol/portal-client.ts (bad ones are counted and dropped; the link stays up),
 * reconnect with exponential backoff and jitter, and a ping heartbeat that notices a dead link (a laptop that slept,
 * a NAT that forgot us) within two heartbeat periods.
 */
export class PortalLink {
  readonly dropped = { malformed: 0, invalid: 0 };
  private socket: WebSocket | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly backoff: Backoff;
  private readonly url: string;

  constructor(private readonly options: PortalLinkOptions) {
    this.backoff = options.backoff ?? new Backoff();
    this.url = clientWebSocketUrl(options.portalUrl);
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Sends a message if the link is open; false when it is not (the caller retries on its own schedule). */
  send(message: ClientToPortal): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** The portal accepted us (its `init` arrived): later failures start the backoff from the beginning again. */
  markHealthy(): void {
    this.backoff.reset();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.teardown();
  }

  private open(): void {
    const { token, log, handlers, userAgent } = this.options;
    const socket = new WebSocket(this.url, {
      headers: { authorization: `Bearer ${token}`, ...(userAgent ? { 'user-agent': userAgent } : {}) },
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: 10_000,
    });
    this.socket = socket;
    let failure: ConnectionError | undefined;

    socket.on('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      failure =
        status === 401 || status === 403
          ? { code: 'unauthorized', message: `the portal refused the token (HTTP ${status})` }
          : { code: 'unreachable', message: `the portal answered the WebSocket upgrade with HTTP ${status}` };
      response.resume();
      socket.terminate();
    });
    socket.on('open', () => {
      log.info({ url: this.url }, 'portal link open');
      this.startHeartbeat(socket);
      handlers.onOpen();
    });
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('error', (e) => {
      failure ??= { code: 'unreachable', message: `cannot reach the portal: ${e.message}` };
    });
    socket.on('close', (code, reason) => {
      if (this.socket !== socket) return;
      this.teardown();
      if (this.stopped) return;
      const error = failure ?? {
        code: 'unreachable' as const,
        message: `the portal closed the link (${code}${reason.length ? `: ${reason.toString()}` : ''})`,
      };
      if (error.code === 'unauthorized') {
        log.error({ url: this.url }, error.message);
        this.stopped = true;
        return handlers.onDown(error, undefined);
      }
      const delay = this.backoff.next();
      log.warn({ url: this.url, reason: error.message, retryInMs: Math.round(delay) }, 'portal link down');
      handlers.onDown(error, delay);
      this.retry = setTimeout(() => this.open(), delay);
    });
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    const { log, handlers } = this.options;
    let json: unknown;
    try {
      if (isBinary) throw new Error('binary frame');
      json = JSON.parse(rawToString(data));
    } catch (e) {
      this.dropped.malformed++;
      log.warn({ err: e }, 'dropped a malformed portal message');
      return;
    }
    const parsed = PortalToClient.safeParse(json);
    if (!parsed.success) {
      this.dropped.invalid++;
      log.warn({ reason: z.prettifyError(parsed.error) }, 'dropped an invalid portal message');
      return;
    }
    handlers.onMessage(parsed.data);
  }

  private startHeartbeat(socket: WebSocket): void {
    let answered = true;
    socket.on('pong', () => (answered = true));
    this.heartbeat = setInterval(() => {
      if (!answered) {
        this.options.log.warn('portal link missed its heartbeat; reconnecting');
        socket.terminate();
        return;
      }
      answered = false;
      socket.ping();
    }, this.options.heartbeatMs ?? 10_000);
  }

  private teardown(): void {
    clearInterval(this.heartbeat);
    const socket = this.socket;
    this.socket = undefined;
    if (socket && socket.readyState !== WebSocket.CLOSED) socket.terminate();
  }
}

/** `https://portal.example/` → `wss://portal.example/client/websocket`; a ws(s) URL with a path is used as given. */
export function clientWebSocketUrl(portalUrl: string): string {
  const url = new URL(portalUrl);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/client/websocket';
  return url.toString();
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
