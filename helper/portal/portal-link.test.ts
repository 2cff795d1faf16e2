import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ConnectionError } from '../../protocol/helper-api.js';
import type { PortalToClient } from '../../protocol/portal-client.js';
import { Backoff } from './backoff.js';
import { clientWebSocketUrl, PortalLink } from './portal-link.js';

const log = pino({ level: 'silent' });
const servers: WebSocketServer[] = [];
const links: PortalLink[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.stop();
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((r) => s.close(r));
  }
});

async function portal(options: { autoPong?: boolean; onConnection?: (ws: WebSocket, auth: string) => void } = {}) {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    autoPong: options.autoPong ?? true,
    verifyClient: (info, done) => {
      if (info.req.headers.authorization === 'Bearer good') done(true);
      else done(false, 401, 'Unauthorized');
    },
  });
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  const seen: string[] = [];
  server.on('connection', (ws, req) => {
    seen.push(req.url ?? '');
    options.onConnection?.(ws, req.headers.authorization ?? '');
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen };
}

function link(url: string, token: string, extra: { heartbeatMs?: number } = {}) {
  const messages: PortalToClient[] = [];
  const downs: Array<[ConnectionError, number | undefined]> = [];
  let opens = 0;
  const l = new PortalLink({
    portalUrl: url,
    token,
    log,
    backoff: new Backoff({ initialMs: 20, maxMs: 40 }),
    handlers: {
      onOpen: () => opens++,
      onMessage: (m) => messages.push(m),
      onDown: (e, retry) => downs.push([e, retry]),
    },
    ...extra,
  });
  links.push(l);
  l.start();
  return { link: l, messages, downs, opens: () => opens };
}

describe('clientWebSocketUrl', () => {
  it('maps http(s) to ws(s) and adds the client path', () => {
    expect(clientWebSocketUrl('https://portal.test/')).toBe('wss://portal.test/client/websocket');
    expect(clientWebSocketUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/client/websocket');
    expect(clientWebSocketUrl('ws://127.0.0.1:1/custom')).toBe('ws://127.0.0.1:1/custom');
  });
});

describe('PortalLink', () => {
  it('sends the token in the header, validates messages, and drops bad ones without closing', async () => {
    const { url, seen } = await portal({
      onConnection: (ws) => {
        ws.send('not json');
        ws.send(JSON.stringify({ type: 'resource_deleted' }));
        ws.send(JSON.stringify({ type: 'resource_deleted', resourceId: 'r1' }));
        ws.on('message', (d) => ws.send(JSON.stringify({ type: 'error', code: 'internal', message: String(d) })));
      },
    });
    const { link: l, messages, downs, opens } = link(url, 'good');
    await vi.waitFor(() => expect(messages).toHaveLength(1));
    expect(messages[0]).toEqual({ type: 'resource_deleted', resourceId: 'r1' });
    expect(l.dropped).toEqual({ malformed: 1, invalid: 1 });
    expect(seen).toEqual(['/client/websocket']);
    expect(opens()).toBe(1);
    expect(l.send({ type: 'request_authorization', resourceId: 'r1', connectedGatewayIds: [] })).toBe(true);
    await vi.waitFor(() => expect(messages).toHaveLength(2));
    expect(downs).toEqual([]);
  });

  it('gives up on a refused token', async () => {
    const { url } = await portal();
    const { downs } = link(url, 'bad');
    await vi.waitFor(() => expect(downs).toHaveLength(1));
    expect(downs[0]).toEqual([{ code: 'unauthorized', message: expect.stringContaining('401') }, undefined]);
    await new Promise((r) => setTimeout(r, 100));
    expect(downs).toHaveLength(1);
  });

  it('reconnects with backoff when the portal drops the link', async () => {
    let connections = 0;
    const { url } = await portal({
      onConnection: (ws) => {
        connections++;
        if (connections < 3) ws.close(1011, 'restarting');
      },
    });
    const { downs, opens } = link(url, 'good');
    await vi.waitFor(() => expect(opens()).toBe(3));
    expect(downs.map(([e]) => e.code)).toEqual(['unreachable', 'unreachable']);
    expect(downs[0]![0].message).toContain('restarting');
    for (const [, retry] of downs) expect(retry).toBeGreaterThanOrEqual(10);
  });

  it('keeps retrying while the portal is not there', async () => {
    const { url, server } = await portal();
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server.close(r));
    servers.length = 0;
    const { downs } = link(`http://127.0.0.1:${port}`, 'good');
    await vi.waitFor(() => expect(downs.length).toBeGreaterThanOrEqual(3));
    expect(downs[0]![0]).toMatchObject({ code: 'unreachable' });
    expect(url).toContain(String(port));
  });

  it('declares a link dead when pings go unanswered', async () => {
    const { url } = await portal({ autoPong: false });
    const { downs, opens } = link(url, 'good', { heartbeatMs: 30 });
    await vi.waitFor(() => expect(downs.length).toBeGreaterThanOrEqual(1));
    expect(opens()).toBeGreaterThanOrEqual(1);
  });
});
