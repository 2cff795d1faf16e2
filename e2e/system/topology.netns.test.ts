import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DnsCapture } from './dns-capture.js';
import { CORP_SERVERS, DEMO_USER, NAMES, PLAN } from './plan.js';
import { curl, dig } from './probes.js';
import { SystemTopology, topologyUnavailableReason } from './topology.js';

/**
 * The system topology's own pieces, before any Postern daemon runs in it: the portal with the demo config, both
 * DNS servers and their names, the HTTP servers and the SaaS allowlist, and the routing (the client reaches the
 * internet and the portal, never corp; the gateway reaches both). The system tests build on exactly this.
 */

const skip = topologyUnavailableReason();
if (skip) console.warn(`skipping e2e/system topology tests: ${skip}`);

describe.skipIf(skip)('the system topology', () => {
  let t: SystemTopology;

  beforeAll(async () => {
    t = await SystemTopology.create();
  }, 180_000);

  afterAll(async () => {
    const dir = t?.dir;
    await t?.destroy();
    if (dir) expect(existsSync(dir)).toBe(false);
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(t.processes.dump());
  });

  it('runs the portal with the demo config, reachable from the host through its socket', async () => {
    const accounts = await t.admin.accounts();
    expect(accounts.map((a) => a.email)).toContain(DEMO_USER.email);
    const policies = await t.admin.policies();
    expect(policies.filter((p) => p.resource.name === 'wiki')).toHaveLength(1);
    expect(policies.some((p) => p.resource.name === 'secret')).toBe(false);
    const info = t.info();
    expect(info.namespaces.client).toBe(t.client.name);
    expect(existsSync(join(t.logDir, 'portal.log'))).toBe(true);
  });

  it('serves the portal to the client and the gateway over the internet', async () => {
    for (const host of [t.hosts.client, t.hosts.gateway]) {
      const { stdout } = await host.exec('curl', ['-sS', '--max-time', '5', `${t.portalUrl}/healthz`]);
      expect(JSON.parse(stdout)).toMatchObject({ ok: true, engine: 'pglite' });
    }
  });

  it('answers corp names from corp’s DNS, and public names through it', async () => {
    const gw = t.hosts.gateway;
    const ask = (name: string, type: 'A' | 'AAAA' = 'A') => dig(gw, name, type, PLAN.corp.dns);
    expect(await ask(NAMES.nas)).toEqual({ rcode: 'NOERROR', addresses: ['10.0.1.1'] });
    expect((await ask(`x.${NAMES.appsZone}`)).addresses).toEqual(['10.0.1.2']);
    expect((await ask(`a.b.${NAMES.appsZone}`)).addresses).toEqual(['10.0.1.2']);
    expect(await ask(NAMES.v6only, 'AAAA')).toEqual({ rcode: 'NOERROR', addresses: ['fd10:c1::6'] });
    expect(await ask(NAMES.v6only, 'A')).toEqual({ rcode: 'NOERROR', addresses: [] });
    expect((await ask(NAMES.roundRobin)).addresses.sort()).toEqual(['10.0.1.11', '10.0.1.12', '10.0.1.13']);
    expect(await ask(NAMES.empty, 'A')).toEqual({ rcode: 'NOERROR', addresses: [] });
    expect(await ask(NAMES.empty, 'AAAA')).toEqual({ rcode: 'NOERROR', addresses: [] });
    expect((await ask('unknown.corp.test')).rcode).toBe('NXDOMAIN');
    // Forwarded to the public DNS through the gateway host's edge NAT.
    expect(await ask(NAMES.saas)).toEqual({ rcode: 'NOERROR', addresses: [PLAN.internet.saas] });
  });

  it('gives the client the public DNS through its own resolv.conf, which knows no corp names', async () => {
    const { stdout } = await t.client.exec('cat', ['/etc/resolv.conf']);
    expect(stdout).toBe(t.clientResolvConf);
    expect(await dig(t.client, NAMES.saasSibling, 'A')).toEqual({ rcode: 'NOERROR', addresses: [PLAN.internet.saas] });
    expect((await dig(t.client, NAMES.nas, 'A')).rcode).toBe('NXDOMAIN');
  });

  it('admits only the gateway’s egress address to the SaaS, on both of its names', async () => {
    const direct = await curl(t.client, `http://${NAMES.saasSibling}/`);
    expect(direct).toMatchObject({ status: 403, reply: { server: 'saas', client: PLAN.client.address } });
    const viaGateway = await curl(t.hosts.gateway, `http://${NAMES.saas}/`, {
      resolve: `${NAMES.saas}:80:${PLAN.internet.saas}`,
    });
    expect(viaGateway).toMatchObject({ status: 200, reply: { server: 'saas', client: PLAN.gateway.address } });
    const www = await curl(t.client, `http://${NAMES.www}/`);
    expect(www).toMatchObject({ status: 200, reply: { server: 'www', client: PLAN.client.address } });
  });

  it('routes the gateway to every corp server and keeps the client out of corp', async () => {
    for (const [address, name] of Object.entries(CORP_SERVERS)) {
      const six = address.includes(':');
      const result = await curl(t.hosts.gateway, `http://${six ? `[${address}]` : address}/`);
      expect(result).toMatchObject({
        status: 200,
        reply: { server: name, client: six ? PLAN.gateway.corp6 : PLAN.gateway.corp },
      });
    }
    const fromClient = await curl(t.client, 'http://10.0.1.1/', { maxTimeSeconds: 2 });
    expect(fromClient.status).toBe(0);
    const fromInternet = await curl(t.hosts.internet, 'http://10.0.1.1/', { maxTimeSeconds: 2 });
    expect(fromInternet.status).toBe(0);
  });

  it('sees the client’s queries on the wire in the internet namespace', async () => {
    const capture = await DnsCapture.start(t.hosts.internet, 'any', join(t.dir, 'topology-dns.pcap'));
    await dig(t.client, NAMES.www, 'A');
    await dig(t.client, 'nothing.example.test', 'AAAA');
    const queries = await capture.stop();
    expect(queries).toContainEqual({
      source: PLAN.client.address,
      destination: PLAN.internet.dns,
      name: NAMES.www,
      type: 'A',
    });
    expect(queries).toContainEqual(expect.objectContaining({ name: 'nothing.example.test', type: 'AAAA' }));
  });
});
