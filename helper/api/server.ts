import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import {
  encodeFrame,
  FrameDecoder,
  type HelperError,
  type HelperEvent,
  type HelperMessage,
  type HelperRequest,
  MAX_REQUEST_FRAME_BYTES,
  parseHelperRequest,
} from '../../protocol/helper-api.js';
import type { PeerDecision } from './peer-check.js';

/** Answers one valid request; returns its result or an error frame. Must not throw (a throw becomes `internal`). */
export type RequestHandler = (request: HelperRequest, connection: ApiConnection) => Promise<HelperMessage>;

/** A subscriber that stops reading gets dropped rather than growing the helper's memory. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface ApiServerOptions {
  socketPath: string;
  /** Group that owns the socket (mode 0660); undefined leaves it root's group. */
  gid: number | undefined;
  /** Decides whether the connected peer may use the API (SO_PEERCRED). */
  authorize: (socket: Socket) => PeerDecision;
  handler: RequestHandler;
  log: Logger;
}

export class ApiConnection {
  subscribed = false;
  private closed = false;

  constructor(
    readonly socket: Socket,
    private readonly log: Logger,
  ) {}

  send(message: HelperMessage): void {
    if (this.closed) return;
    if (this.socket.writableLength > MAX_BUFFERED_BYTES) {
      this.log.warn('API client does not read its events; closing it');
      return this.close();
    }
    this.socket.write(encodeFrame(message));
  }

  /** Sends a last frame, then closes once it is written. */
  sendAndClose(message: HelperMessage): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end(encodeFrame(message));
    // A peer that never closes its side must not hold the connection open.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/**
 * The local API: a Unix socket speaking length-prefixed JSON frames (protocol/helper-api.ts). The socket file is
 * mode 0660, group `postern`, and every connection's peer is checked again in the process (SO_PEERCRED), so a
 * socket file with looser permissions does not open the API to everyone.
 */
export class ApiServer {
  private server: Server | undefined;
  private readonly connections = new Set<ApiConnection>();

  constructor(private readonly options: ApiServerOptions) {}

  async listen(): Promise<void> {
    const { socketPath, gid, log } = this.options;
    mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 });
    await removeStaleSocket(socketPath);
    const server = createServer((socket) => this.accept(socket));
    // The socket file is created with the process umask: make it owner-only until its group and mode are set.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    if (gid !== undefined) chownSync(socketPath, 0, gid);
    chmodSync(socketPath, 0o660);
    server.on('error', (e) => log.error({ err: e }, 'API socket error'));
    this.server = server;
    log.info({ socket: socketPath }, 'local API listening');
  }

  /** Pushes an event to every subscribed connection. */
  broadcast(event: HelperEvent): void {
    for (const c of this.connections) if (c.subscribed) c.send(event);
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.close();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.options.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    const { log, authorize, handler } = this.options;
    const connection = new ApiConnection(socket, log);
    socket.on('error', (e) => log.debug({ err: e }, 'API connection error'));
    this.connections.add(connection);
    socket.on('close', () => this.connections.delete(connection));
    const decision = authorize(socket);
    if (!decision.allowed) {
      log.warn({ reason: decision.reason }, 'API peer refused');
      connection.sendAndClose(errorFrame(null, 'forbidden', `not allowed: ${decision.reason}`));
      return;
    }
    const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        if (!frame.ok) {
          log.warn({ code: frame.code, reason: frame.message }, 'bad API frame');
          const error = errorFrame(null, frame.code, frame.message);
          if (frame.code === 'too_large') return connection.sendAndClose(error);
          connection.send(error);
          continue;
        }
        const parsed = parseHelperRequest(frame.json);
        if (!parsed.ok) {
          log.warn({ code: parsed.error.code, reason: parsed.error.message }, 'bad API request');
          connection.send(parsed.error);
          continue;
        }
        const request = parsed.request;
        handler(request, connection).then(
          (reply) => connection.send(reply),
          (e: unknown) => {
            log.error({ err: e, request: request.type }, 'API request failed');
            connection.send(errorFrame(request.id, 'internal', e instanceof Error ? e.message : String(e)));
          },
        );
      }
    });
  }
}

export function errorFrame(id: number | null, code: HelperError['code'], message: string): HelperError {
  return { type: 'error', id, code, message: message.slice(0, 4096) };
}

/**
 * A socket file left by a helper that died is removed; one that still accepts connections belongs to a running
 * helper, and starting a second would steal its socket.
 */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another postern-helper is already listening on ${path}`);
  rmSync(path, { force: true });
}
