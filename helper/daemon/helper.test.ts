import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import type { HelperEvent } from '../../protocol/helper-api.js';
import { ClientToPortal, type PortalToClient } from '../../protocol/portal-client.js';
import { HelperClient } from '../api/client.js';
import type { RunCommand } from '../os/command.js';
import type { DaemonConfig } from './flags.js';
import { Helper } from './helper.js';
import { type FakeTun, type ScriptedCore, scriptedHelperDeps } from '../test-support/scripted-core.js';

const log = pino({ level: 'silent' });
const INIT: PortalToClient = {
  type: 'init',
  device: { id: 'd1', tunnel: { ipv4: '100.64.0.2', ipv6: 'fd00:2021:1111::2' } },
  account: { id: 'a1', email: 'ann@corp.test' },
  resources: [
    { id: 'r1', name: 'NAS', siteId: 's1', filters: [], type: 'dns', address: 'nas.corp.test', ipStack: 'dual' },
  ],
  upstreamResolvers: [],
  blockRules: [],
};

let dir: string;
let portal: WebSocketServer;
let portalUrl: string;
let received: ClientToPortal[];
let helper: Helper;
let client: HelperClient;
let commands: string[];
let cores: ScriptedCore[];
let tuns: FakeTun[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-helper-'));
  received = [];
  commands = [];
  portal = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info, done) => done(info.req.headers.authorization === 'Bearer good', 401),
  });
  await new Promise((r) => portal.once('listening', r));
  portalUrl = `http://127.0.0.1:${(portal.address() as AddressInfo).port}/`;
  portal.on('connection', (ws) =>
    ws.on('message', (data) => {
      const message = ClientToPortal.parse(JSON.parse(String(data)));
      received.push(message);
      if (message.type === 'register_device') ws.send(JSON.stringify(INIT));
    }),
  );
  const run: RunCommand = async (cmd, args) => {
    commands.push([cmd, ...args].join(' '));
    if (cmd === 'getent') return { code: 0, stdout: 'postern:x:998:\n', stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  };
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 10.0.0.53\n');
  const config: DaemonConfig = {
    socket: join(dir, 'helper.sock'),
    stateDir: join(dir, 'state'),
    dnsMode: 'none',
    tunName: 'pt-test0',
    logLevel: 'info',
    logFile: undefined,
    managedFile: join(dir, 'managed.json'),
  };
  const scripted = scriptedHelperDeps(run);
  cores = scripted.cores;
  tuns = scripted.tuns;
  helper = new Helper(config, log, scripted.deps);
  await helper.start();
  client = await HelperClient.connect(config.socket);
});

afterEach(async () => {
  client.close();
  await helper.stop();
  for (const c of portal.clients) c.terminate();
  await new Promise((r) => portal.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('Helper', () => {
  it('reports managed settings, and a bad managed file as an error with defaults', async () => {
    writeFileSync(
      join(dir, 'managed.json'),
      JSON.stringify({ portalUrl: 'https://portal.corp.test', connectOnStart: true }),
    );
    expect(await client.request({ type: 'hello' })).toMatchObject({
      managed: { portalUrl: 'https://portal.corp.test/', connectOnStart: true },
      state: { status: 'disconnected' },
    });
    writeFileSync(join(dir, 'managed.json'), '{"connectOnStart": "yes"');
    const hello = await client.request({ type: 'hello' });
    expect(hello.managed).toEqual({});
    expect(hello.managedError).toMatch(/not valid JSON/);
  });

  it('refuses a rejected token with an unauthorized error and stays disconnected', async () => {
    await expect(client.request({ type: 'connect', portalUrl, token: 'bad' })).rejects.toMatchObject({
      code: 'unauthorized',
      message: expect.stringContaining('401'),
    });
    expect((await client.request({ type: 'status' })).state).toEqual({
      status: 'disconnected',
      error: { code: 'unauthorized', message: expect.stringContaining('refused the token') },
    });
  });

  it('registers the device, brings up the tunnel on init, serves status and events, and tears down on disconnect', async () => {
    const events: HelperEvent[] = [];
    client.onEvent = (e) => events.push(e);
    await client.request({ type: 'subscribe' });
    const { state } = await client.request({ type: 'connect', portalUrl, token: 'good' });
    expect(state).toMatchObject({ status: 'connected', account: { email: 'ann@corp.test' }, device: { id: 'd1' } });
    expect(received[0]).toMatchObject({ type: 'register_device', publicKey: expect.stringMatching(/=$/) });
    expect(cores[0]!.portalMessages[0]).toEqual(INIT);
    expect(commands).toContain('ip -4 addr add 100.64.0.2/32 dev tun-test');
    expect(commands).toContain('ip -6 addr add fd00:2021:1111::2/128 dev tun-test nodad');
    expect(commands).toContain('ip -4 route replace 100.96.0.0/11 dev tun-test table 28783');

    const status = await client.request({ type: 'status' });
    expect(status).toMatchObject({
      tunnel: { tunName: 'tun-test', mtu: 1280, addresses: INIT.type === 'init' ? INIT.device.tunnel : {} },
      routes: ['100.96.0.0/11', '10.0.0.0/8'],
      dns: { mode: 'none' },
      stats: expect.objectContaining({ 'drops.scripted': 1, packetsToGateways: 0 }),
    });
    expect((await client.request({ type: 'resources' })).resources).toEqual([
      { resource: expect.objectContaining({ id: 'r1' }), status: 'idle', gatewayId: null },
    ]);
    await vi.waitFor(() =>
      expect(events.map((e) => (e.type === 'state_changed' ? e.state.status : e.type))).toEqual(
        expect.arrayContaining(['connecting', 'connected', 'resources_changed']),
      ),
    );

    const { state: after } = await client.request({ type: 'disconnect' });
    expect(after).toEqual({ status: 'disconnected' });
    expect(tuns[0]!.closed).toBe(true);
    expect(commands).toContain('ip -4 route del 100.96.0.0/11 dev tun-test table 28783');
    expect(existsSync(join(dir, 'state', 'state.json'))).toBe(false); // nothing left for a recovery to undo
  });

  it('keeps the tunnel and reports reconnecting when the portal link drops', async () => {
    await client.request({ type: 'connect', portalUrl, token: 'good' });
    for (const c of portal.clients) c.terminate();
    await vi.waitFor(async () => expect((await client.request({ type: 'status' })).state.status).toBe('reconnecting'));
    expect(tuns[0]!.closed).toBe(false);
    await vi.waitFor(async () => expect((await client.request({ type: 'status' })).state.status).toBe('connected'), {
      timeout: 5000,
    });
    expect(cores).toHaveLength(1); // the same core took the fresh init
    expect(cores[0]!.portalMessages.filter((m) => m.type === 'init')).toHaveLength(2);
  });
});
