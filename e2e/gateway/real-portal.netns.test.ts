import { createConnection, createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationCreated } from '../../protocol/portal-client.js';
import { pgliteEngine } from '../../portal/testing/engines.js';
import { startTestPortal, type TestPortal } from '../../portal/testing/fixture.js';
import { registeredClient, type FakeClient } from '../../portal/testing/peers.js';
import { sweepStaleNamespaces, type BackgroundProcess } from '../netns/index.js';
import { GATEWAY_ENDPOINT, GatewayTopology, gatewayTestsUnavailableReason } from './topology.js';

/**
 * The gateway against the real portal (`portal/`), the client's control-plane side played by the portal's test peer:
 * the client asks for authorization, the portal picks this gateway, the gateway installs the peer and acknowledges,
 * and the client connects with what `authorization_created` told it. The portal listens on loopback in the test's
 * own namespace; the gateway reaches it through a Unix socket relayed to that port (namespaces share the file system).
 */

const skip = gatewayTestsUnavailableReason();
if (skip) console.warn(`skipping e2e/gateway real-portal tests: ${skip}`);

const GATEWAY_TOKEN = 'gateway-token-corp-e2e-0123456789';
const YAML = `
accounts:
  - { email: alice@corp.test, password: "alice password", groups: [engineering] }
sites:
  - { name: corp, gateway_tokens: ["${GATEWAY_TOKEN}"] }
resources:
  - { name: web, address: "*.corp.test", site: corp, filters: ["tcp/8080", "icmp"] }
policies:
  - { group: engineering, resources: [web] }
`;

/** A Unix socket that relays every connection to a TCP port on loopback. */
async function unixRelay(path: string, port: number): Promise<Server> {
  const server = createServer((socket) => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    socket.pipe(upstream).pipe(socket);
    const end = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

/** Asks until the portal authorizes (it may not see the gateway online at once; the request is idempotent). */
async function requestAuthorization(client: FakeClient, resourceId: string): Promise<AuthorizationCreated> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  for (let attempt = 0; attempt < 20; attempt++) {
    client.send({ type: 'request_authorization', resourceId, connectedGatewayIds: [] });
    for (const deadline = Date.now() + 3000; Date.now() < deadline; await sleep(50)) {
      const i = client.received.findIndex(
        (m) => m.type === 'authorization_created' || m.type === 'authorization_failed',
      );
      if (i < 0) continue;
      const answer = client.received.splice(i, 1)[0]!;
      if (answer.type === 'authorization_created') return answer;
      break;
    }
    await sleep(250);
  }
  throw new Error(`no authorization_created; got ${JSON.stringify(client.received)}`);
}

describe.skipIf(skip)('postern-gateway with the real portal', () => {
  let t: GatewayTopology;
  let portal: TestPortal;
  let relay: Server;
  let gateway: BackgroundProcess;
  let client: FakeClient;

  beforeAll(async () => {
    sweepStaleNamespaces();
    t = await GatewayTopology.create();
    portal = await startTestPortal(pgliteEngine(), { yaml: YAML });
    relay = await unixRelay(`${t.dir}/portal.sock`, Number(new URL(portal.url).port));
    gateway = t.startGateway(`ws+unix://${t.dir}/portal.sock:/gateway/websocket`, GATEWAY_TOKEN);
  }, 180_000);

  afterAll(async () => {
    client?.close();
    await t?.destroy();
    relay?.close();
    await portal?.close();
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(`--- postern-gateway output ---\n${gateway?.text.slice(-8000)}`);
  });

  it('is authorized for a client by the portal and carries the client’s traffic', async () => {
    await gateway.waitForOutput(/portal connected/, 30_000);
    const keys = await t.clientKeys();
    const registered = await registeredClient(portal.url, await portal.tokenFor('alice@corp.test'), keys.publicKey);
    client = registered.client;
    const web = registered.init.resources.find((r) => r.name === 'web')!;

    const created = await requestAuthorization(client, web.id);
    expect(created.gateway.endpoint).toEqual(GATEWAY_ENDPOINT);

    await t.connectClient({
      privateKeyFile: keys.privateKeyFile,
      presharedKey: created.presharedKey,
      gatewayPublicKey: created.gateway.publicKey,
      client: registered.init.device.tunnel,
      gateway: created.gateway.tunnel,
    });
    const status = await t.control(registered.init.device.tunnel.ipv4, created.gateway.tunnel.ipv4, {
      type: 'assigned_ips',
      resourceId: web.id,
      domain: 'v6only.corp.test',
      proxyIps: ['100.96.0.5', 'fd00:2021:1111:8000::5'],
    });
    expect(status).toMatchObject({ type: 'domain_status', status: 'active' });
    expect((await t.curl('http://100.96.0.5:8080/')).stdout).toBe('hello from corp; you are fd20::1\n');
  });
});
