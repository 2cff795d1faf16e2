import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../protocol/resources.js';
import { CONTROL_PORT } from '../../protocol/tunnel-control.js';
import { run, sweepStaleNamespaces, type BackgroundProcess } from '../netns/index.js';
import { ScriptedPortal } from './scripted-portal.js';
import { GATEWAY_ENDPOINT, GatewayTopology, gatewayTestsUnavailableReason } from './topology.js';

/**
 * The real `postern-gateway` between wireguard-go (the client) and a corp network with an HTTP server and dnsmasq
 * (see topology.ts), driven by a scripted portal. The client sends `assigned_ips` itself, from its tunnel address
 * through the tunnel to the gateway's CONTROL_PORT.
 */

const skip = gatewayTestsUnavailableReason();
if (skip) console.warn(`skipping e2e/gateway tests: ${skip}`);

const GATEWAY_TUNNEL = { ipv4: '100.64.0.1', ipv6: 'fd00:2021:1111::1' };
const CLIENT_TUNNEL = { ipv4: '100.64.0.2', ipv6: 'fd00:2021:1111::2' };
const CORP: Resource = {
  id: 'corp',
  type: 'dns',
  name: 'Corp',
  siteId: 'site',
  address: '*.corp.test',
  ipStack: 'dual',
  filters: [
    { protocol: 'tcp', portStart: 8080, portEnd: 8080 },
    { protocol: 'udp', portStart: 53, portEnd: 53 },
    { protocol: 'icmp' },
  ],
};

describe.skipIf(skip)('postern-gateway in namespaces, scripted portal', () => {
  let t: GatewayTopology;
  let portal: ScriptedPortal;
  let gateway: BackgroundProcess;

  beforeAll(async () => {
    sweepStaleNamespaces();
    t = await GatewayTopology.create();
    portal = await ScriptedPortal.start(randomBytes(16).toString('hex'));
    gateway = t.startGateway(portal.url, portal.token, ['--metrics', '127.0.0.1:9464', '--log-level', 'debug']);
  }, 180_000);

  afterAll(async () => {
    await t?.destroy();
    await portal?.stop();
  });

  // On a failure, show what the gateway said (access log and application log).
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(`--- postern-gateway output ---\n${gateway?.text.slice(-8000)}`);
  });

  function assign(domain: string, proxyIps: string[], family: 4 | 6 = 4): Promise<unknown> {
    const [src, dst] =
      family === 4 ? [CLIENT_TUNNEL.ipv4, GATEWAY_TUNNEL.ipv4] : [CLIENT_TUNNEL.ipv6, GATEWAY_TUNNEL.ipv6];
    return t.control(src, dst, { type: 'assigned_ips', resourceId: 'corp', domain, proxyIps });
  }

  it('registers with the portal, installs an authorized client and tells the portal', async () => {
    const register = await portal.next('register_gateway', 30_000);
    expect(register.endpoint).toEqual(GATEWAY_ENDPOINT);
    portal.send({ type: 'init', gateway: { id: 'gw1', siteId: 'site', tunnel: GATEWAY_TUNNEL } });

    const keys = await t.clientKeys();
    const presharedKey = (await run('wg', ['genpsk'])).stdout.trim();
    portal.send('{"type":"authorize_client", "broken": true}');
    portal.send({
      type: 'authorize_client',
      ref: 'ref-1',
      client: { id: 'device-1', publicKey: keys.publicKey, tunnel: CLIENT_TUNNEL },
      resource: CORP,
      presharedKey,
      expiresAt: Date.now() + 3_600_000,
    });
    expect(await portal.next('client_authorized')).toEqual({ type: 'client_authorized', ref: 'ref-1' });
    await t.connectClient({
      privateKeyFile: keys.privateKeyFile,
      presharedKey,
      gatewayPublicKey: register.publicKey,
      client: CLIENT_TUNNEL,
      gateway: GATEWAY_TUNNEL,
    });
  });

  it('answers assigned_ips Active for an authorized name and Inactive otherwise', async () => {
    expect(await assign('web.corp.test', ['100.96.0.1', '100.96.0.2', 'fd00:2021:1111:8000::1'])).toEqual({
      type: 'domain_status',
      resourceId: 'corp',
      domain: 'web.corp.test',
      status: 'active',
    });
    expect(await assign('v6only.corp.test', ['100.96.0.5', 'fd00:2021:1111:8000::5'], 6)).toMatchObject({
      status: 'active',
    });
    expect(await assign('dns.corp.test', ['100.96.0.9'])).toMatchObject({ status: 'active' });
    expect(await assign('dns6.corp.test', ['100.96.0.10'])).toMatchObject({ status: 'active' });
    expect(await assign('outside.test', ['100.96.0.7'])).toMatchObject({ status: 'inactive' });
    expect(await assign('missing.corp.test', ['100.96.0.8'])).toMatchObject({ status: 'inactive' });
  });

  it('carries HTTP to the corp server, which sees the gateway’s address (IPv4, and IPv6 by NAT46)', async () => {
    expect((await t.curl('http://100.96.0.1:8080/')).stdout).toBe('hello from corp; you are ::ffff:10.20.0.1\n');
    const v6 = await t.curl('http://[fd00:2021:1111:8000::1]:8080/');
    expect(v6.stdout).toBe('hello from corp; you are ::ffff:10.20.0.1\n');
  });

  it('reaches an IPv6-only name over IPv4 (NAT64): TCP and ICMP echo', async () => {
    expect((await t.curl('http://100.96.0.5:8080/')).stdout).toBe('hello from corp; you are fd20::1\n');
    await t.client.exec('ping', ['-c', '2', '-W', '2', '100.96.0.5']);
  });

  it('carries DNS to dnsmasq over UDP through mapped IPs, also across families', async () => {
    const { stdout } = await t.client.exec('dig', ['+short', '+time=2', '+tries=2', '@100.96.0.9', 'web.corp.test']);
    expect(stdout.trim()).toBe('10.20.0.2');
    const v6 = await t.client.exec('dig', [
      '+short',
      '+time=2',
      '+tries=2',
      '@100.96.0.10',
      'v6only.corp.test',
      'AAAA',
    ]);
    expect(v6.stdout.trim()).toBe('fd20::2');
  });

  it('refuses filtered ports with ICMP administratively prohibited and unknown addresses silently', async () => {
    // Refused at once by the ICMP error ("couldn't connect"), not left to time out.
    expect((await t.curl('http://100.96.0.1:22/', 5)).code).toBe(7);
    expect((await t.curl('http://100.96.0.7:8080/', 2)).code).toBe(28); // dropped, never forwarded
  });

  it('survives garbage from the client and from the portal, and counts it', async () => {
    const garbage = `
const s = require('node:dgram').createSocket('udp4');
s.bind(0, '${CLIENT_TUNNEL.ipv4}', () => {
  let n = 0;
  const msgs = ['{', 'null', '{"type":"assigned_ips"}', Buffer.from([0xff, 0, 1]), 'x'.repeat(5000)];
  for (const m of msgs) s.send(m, ${CONTROL_PORT}, '${GATEWAY_TUNNEL.ipv4}', () => { if (++n === msgs.length) s.close(); });
});`;
    await t.client.exec('node', ['-e', garbage]);
    portal.send('not json');
    portal.send({ type: 'revoke_authorization' });
    expect((await t.curl('http://100.96.0.2:8080/')).stdout).toContain('hello from corp');
    const metrics = await t.gw.exec('curl', ['-sS', 'http://127.0.0.1:9464/metrics']);
    expect(metrics.stdout).toMatch(/postern_gateway_drops_total\{reason="control_malformed"\} [1-9]/);
    expect(metrics.stdout).toMatch(/postern_gateway_clients 1/);
    expect(metrics.stdout).toMatch(/postern_gateway_flows_total [1-9]/);
    expect(gateway.text).toMatch(/100\.64\.0\.2 ~> tcp 100\.96\.0\.5:8080 v6only\.corp\.test => \[fd20::2\]:8080/);
  });

  it('reconnects to the portal after the link drops', async () => {
    portal.disconnect();
    expect((await portal.next('register_gateway', 15_000)).endpoint).toEqual(GATEWAY_ENDPOINT);
  });

  it('removes the peer on revocation and cleans up the host on SIGTERM', async () => {
    portal.send({ type: 'revoke_authorization', clientId: 'device-1' });
    expect((await t.curl('http://100.96.0.1:8080/', 2)).code).not.toBe(0);
    expect((await t.gw.exec('nft', ['list', 'tables'])).stdout).toContain(`postern_gateway_${t.tunName}`);
    expect(await gateway.stop(5_000)).toBe(0);
    expect((await t.gw.exec('nft', ['list', 'tables'])).stdout).not.toContain('postern_gateway');
    expect((await t.gw.exec('ip', ['route', 'show'])).stdout).not.toContain('100.64.0.0/11');
  });
});
