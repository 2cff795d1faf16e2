import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { z } from 'zod';
import { ClientToPortal, type PortalToClient } from '../../protocol/portal-client.js';
import { GatewayToPortal, type PortalToGateway } from '../../protocol/portal-gateway.js';
import { ClientConnection } from '../engine/client-connection.js';
import { GatewayConnection } from '../engine/gateway-connection.js';
import type { Hub } from '../engine/hub.js';
import { findClientSession, findGatewayToken } from '../store/sessions.js';

export const CLIENT_WEBSOCKET_PATH = '/client/websocket';
export const GATEWAY_WEBSOCKET_PATH = '/gateway/websocket';
/** Larger frames close the socket with 1009 (the biggest legitimate message is a few KiB). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

type ErrorCode = 'malformed' | 'unknown_type' | 'internal';
type Handler<In> = { handle(message: In): Promise<void> };

/**
 * Serves the client and gateway WebSockets on the HTTP server: bearer token checked on upgrade (401 otherwise),
 * frames validated with the protocol schemas (a bad frame gets an `error` frame, the socket stays), ws ping/pong
 * heartbeat terminating sockets that miss a pong.
 */
export function attachWebSockets(server: Server, hub: Hub): { close(): void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const alive = new WeakMap<WebSocket, boolean>();
  const onPong = new WeakMap<WebSocket, (alive: boolean) => void>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void upgrade(req, socket, head).catch((err: unknown) => {
      hub.log.error({ err }, 'WebSocket upgrade failed');
      reject(socket, 500, 'Internal Server Error');
    });
  });

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://portal').pathname;
    const token = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (path !== CLIENT_WEBSOCKET_PATH && path !== GATEWAY_WEBSOCKET_PATH) return reject(socket, 404, 'Not Found');
    if (token === undefined) return reject(socket, 401, 'Unauthorized');
    if (path === CLIENT_WEBSOCKET_PATH) {
      const session = await findClientSession(hub.db, token);
      if (!session) return reject(socket, 401, 'Unauthorized');
      wss.handleUpgrade(req, socket, head, (ws) => {
        const connection = new ClientConnection(hub, sink<PortalToClient>(ws), session);
        hub.addClient(connection);
        serve(ws, connection, ClientToPortal, () => {
          connection.closed();
          hub.removeClient(connection);
        });
      });
      return;
    }
    const credentials = await findGatewayToken(hub.db, token);
    if (!credentials) return reject(socket, 401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new GatewayConnection(hub, sink<PortalToGateway>(ws), credentials);
      onPong.set(ws, (isAlive) => connection.setAlive(isAlive));
      serve(
        ws,
        connection,
        GatewayToPortal,
        () => void connection.closed().catch((err: unknown) => hub.log.warn({ err }, 'gateway close')),
      );
    });
  }

  function serve<In>(ws: WebSocket, handler: Handler<In>, schema: z.ZodType<In>, onClose: () => void): void {
    alive.set(ws, true);
    ws.on('pong', () => {
      alive.set(ws, true);
      onPong.get(ws)?.(true);
    });
    ws.on('close', onClose);
    ws.on('error', (err) => hub.log.debug({ err }, 'WebSocket error'));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const parsed = parseFrame(data, isBinary, schema);
      if ('code' in parsed) return sendError(ws, parsed.code, parsed.message);
      handler.handle(parsed.message).catch((err: unknown) => {
        hub.log.error({ err }, 'handling a WebSocket message failed');
        sendError(ws, 'internal', 'the portal could not handle this message');
      });
    });
  }

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      onPong.get(ws)?.(false);
      ws.ping();
    }
  }, hub.timings.heartbeatMs);

  return {
    close() {
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

function parseFrame<In>(
  data: RawData,
  isBinary: boolean,
  schema: z.ZodType<In>,
): { message: In } | { code: ErrorCode; message: string } {
  if (isBinary) return { code: 'malformed', message: 'messages are JSON text frames' };
  let json: unknown;
  try {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { code: 'malformed', message: 'not JSON' };
  }
  const result = schema.safeParse(json);
  if (result.success) return { message: result.data };
  const unknownType = result.error.issues.some((i) => i.code === 'invalid_union' && i.path.join('.') === 'type');
  if (unknownType) return { code: 'unknown_type', message: 'unknown message type' };
  const first = result.error.issues[0];
  return {
    code: 'malformed',
    message: `${first?.path.join('.') || 'message'}: ${first?.message ?? 'invalid'}`.slice(0, 1024),
  };
}

function sendError(ws: WebSocket, code: ErrorCode, message: string): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'error', code, message }));
}

function sink<Message>(ws: WebSocket) {
  return {
    send(message: Message): void {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    },
    close(code: number, reason: string): void {
      ws.close(code, reason);
    },
  };
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
