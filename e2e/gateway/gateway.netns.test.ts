import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../protocol/resources.js';
import { CONTROL_PORT } from '../../protocol/tunnel-control.js';
import type { BackgroundProcess } from '../netns/index.js';
import { Namespace, connect, netnsUnavailableReason, run, sweepStaleNamespaces } from '../netns/index.js';
import { ScriptedPortal } from './scripted-portal.js';

/**
 * The real `postern-gateway` between a client namespace (wireguard-go + wg as the client's WireGuard) and a "corp"
 * namespace (an HTTP server and dnsmasq), driven by a scripted portal:
 *
 *   client 10.10.0.1 ── veth ── 10.10.0.2 gateway 10.20.0.1/fd20::1 ── veth ── 10.20.0.2/fd20::2 corp
 *
 * The client's tunnel addresses are 100.64.0.2 / fd00:2021:1111::2; it sends `assigned_ips` itself (a UDP socket
 * bound to its tunnel address, through the tunnel to the gateway's 100.64.0.1:CONTROL_PORT).
 */

const ROOT = resolve(import.meta.dirname, '../..');
const skip = netnsUnavailableReason() ?? missingTools();
if (skip) console.warn(`skipping e2e/gateway tests: ${skip}`);

function missingTools(): string | undefined {
  for (const tool of ['wireguard-go', 'wg', 'dnsmasq', 'curl', 'dig', 'nft', 'ping']) {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (run scripts/setup-system)`;
    }
  }
  return undefined;
}

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

const HTTP_SERVER = `
const http = require('node:http');
http.createServer((req, res) => res.end('hello from corp; you are ' + req.socket.remoteAddress + '\\n'))
  .listen(8080, '::', () => console.log('listening'));
`;

/** Sends one control message from the client's tunnel address and prints the gateway's answer (retrying). */
const CONTROL_CLIENT = `
const dgram = require('node:dgram');
const [src, dst, port, message] = process.argv.slice(1);
const s = dgram.createSocket(src.includes(':') ? 'udp6' : 'udp4');
let tries = 0;
s.on('message', (m) => { console.log(m.toString()); process.exit(0); });
s.bind(0, src, () => {
  const send = () => {
    if (tries++ === 20) { console.error('no answer'); process.exit(1); }
    s.send(message, Number(port), dst);
  };
  send();
  setInterval(send, 500);
});
`;

describe.skipIf(skip)('postern-gateway in namespaces', () => {
  let client: Namespace;
  let gw: Namespace;
  let corp: Namespace;
  let portal: ScriptedPortal;
  let gateway: BackgroundProcess;
  const background: BackgroundProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'postern-gw-e2e-'));
  const tunName = `pgw${randomBytes(3).toString('hex')}`;
  const wgName = `pwc${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    sweepStaleNamespaces();
    await run('npx', ['tsc', '-b'], { timeoutMs: 120_000 });
    client = await Namespace.create('client');
    gw = await Namespace.create('gw');
    corp = await Namespace.create('corp');
    await connect(client, gw, { a: ['10.10.0.1/24'], b: ['10.10.0.2/24'] });
    await connect(gw, corp, { a: ['10.20.0.1/24', 'fd20::1/64'], b: ['10.20.0.2/24', 'fd20::2/64'] });

    // corp: an HTTP server on both families, and the site's DNS (v6only has no A record).
    const http = corp.spawn('http', 'node', ['-e', HTTP_SERVER]);
    background.push(http);
    await http.waitForOutput(/listening/);
    const dns = corp.spawn('dnsmasq', 'dnsmasq', [
      '--keep-in-foreground',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--listen-address=10.20.0.2,fd20::2',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      '--host-record=web.corp.test,10.20.0.2',
      '--host-record=v6only.corp.test,fd20::2',
      '--host-record=dns.corp.test,10.20.0.2',
      '--host-record=dns6.corp.test,fd20::2',
      '--host-record=outside.test,10.20.0.2',
      '--log-queries',
      '--log-facility=-',
    ]);
    background.push(dns);
    await corp.exec('sh', [
      '-c',
      'for i in $(seq 50); do dig +short +time=1 @10.20.0.2 web.corp.test && exit 0; sleep 0.1; done; exit 1',
    ]);

    const token = randomBytes(16).toString('hex');
    writeFileSync(join(dir, 'token'), `${token}\n`);
    portal = await ScriptedPortal.start(token);
    gateway = gw.spawn('gateway', 'node', [
      join(ROOT, 'dist/gateway/main.js'),
      '--portal',
      portal.url,
      '--token-file',
      join(dir, 'token'),
      '--listen',
      '10.10.0.2:51820',
      '--endpoint',
      '10.10.0.2:51820',
      '--dns',
      '10.20.0.2',
      '--tun-name',
      tunName,
      '--metrics',
      '127.0.0.1:9464',
      '--log-level',
      'debug',
    ]);
    background.push(gateway);
  }, 180_000);

  afterAll(async () => {
    for (const p of background.reverse()) await p.stop();
    await portal?.stop();
    for (const ns of [client, gw, corp]) await ns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  // On a failure, show what the gateway said (access log and application log).
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(`--- postern-gateway output ---\n${gateway?.text.slice(-8000)}`);
  });

  async function assign(domain: string, proxyIps: string[], family: 4 | 6 = 4): Promise<unknown> {
    const message = JSON.stringify({ type: 'assigned_ips', resourceId: 'corp', domain, proxyIps });
    const [src, dst] =
      family === 4 ? [CLIENT_TUNNEL.ipv4, GATEWAY_TUNNEL.ipv4] : [CLIENT_TUNNEL.ipv6, GATEWAY_TUNNEL.ipv6];
    const { stdout } = await client.exec('node', ['-e', CONTROL_CLIENT, src, dst, String(CONTROL_PORT), message]);
    return JSON.parse(stdout);
  }

  it('registers with the portal, installs an authorized client and tells the portal', async () => {
    const register = await portal.next('register_gateway', 30_000);
    expect(register.endpoint).toEqual({ host: '10.10.0.2', port: 51820 });
    portal.send({ type: 'init', gateway: { id: 'gw1', siteId: 'site', tunnel: GATEWAY_TUNNEL } });

    // The client's WireGuard: wireguard-go + wg, routes for the mapped ranges and the gateway's tunnel address.
    const key = (await run('wg', ['genkey'])).stdout.trim();
    const publicKey = (await run('wg', ['pubkey'], { input: key })).stdout.trim();
    const psk = (await run('wg', ['genpsk'])).stdout.trim();
    writeFileSync(join(dir, 'client.key'), key);
    writeFileSync(join(dir, 'psk'), psk);
    portal.send('{"type":"authorize_client", "broken": true}');
    portal.send({
      type: 'authorize_client',
      ref: 'ref-1',
      client: { id: 'device-1', publicKey, tunnel: CLIENT_TUNNEL },
      resource: CORP,
      presharedKey: psk,
      expiresAt: Date.now() + 3_600_000,
    });
    expect(await portal.next('client_authorized')).toEqual({ type: 'client_authorized', ref: 'ref-1' });

    const wg = client.spawn('wireguard-go', 'wireguard-go', ['-f', wgName], {
      env: { ...process.env, WG_PROCESS_FOREGROUND: '1' },
    });
    background.push(wg);
    await client.exec('sh', ['-c', `for i in $(seq 50); do ip link show ${wgName} && exit 0; sleep 0.1; done; exit 1`]);
    await client.exec('wg', [
      'set',
      wgName,
      'private-key',
      join(dir, 'client.key'),
      'peer',
      register.publicKey,
      'preshared-key',
      join(dir, 'psk'),
      'endpoint',
      '10.10.0.2:51820',
      'allowed-ips',
      '100.64.0.1/32,100.96.0.0/11,fd00:2021:1111::1/128,fd00:2021:1111:8000::/107',
    ]);
    await client.exec('ip', ['addr', 'add', `${CLIENT_TUNNEL.ipv4}/32`, 'dev', wgName]);
    await client.exec('ip', ['addr', 'add', `${CLIENT_TUNNEL.ipv6}/128`, 'dev', wgName, 'nodad']);
    await client.exec('ip', ['link', 'set', wgName, 'up']);
    for (const route of ['100.64.0.1/32', '100.96.0.0/11'])
      await client.exec('ip', ['route', 'add', route, 'dev', wgName]);
    for (const route of ['fd00:2021:1111::1/128', 'fd00:2021:1111:8000::/107']) {
      await client.exec('ip', ['-6', 'route', 'add', route, 'dev', wgName]);
    }
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

  it('carries HTTP to the corp server, which sees the gateway’s address', async () => {
    const { stdout } = await client.exec('curl', ['-sS', '--max-time', '10', 'http://100.96.0.1:8080/']);
    expect(stdout).toBe('hello from corp; you are ::ffff:10.20.0.1\n');
    const v6 = await client.exec('curl', ['-sS', '--max-time', '10', 'http://[fd00:2021:1111:8000::1]:8080/']);
    expect(v6.stdout).toBe('hello from corp; you are ::ffff:10.20.0.1\n');
  });

  it('reaches an IPv6-only name over IPv4 (NAT64): TCP and ICMP echo', async () => {
    const { stdout } = await client.exec('curl', ['-sS', '--max-time', '10', 'http://100.96.0.5:8080/']);
    expect(stdout).toBe('hello from corp; you are fd20::1\n');
    await client.exec('ping', ['-c', '2', '-W', '2', '100.96.0.5']);
  });

  it('carries DNS to dnsmasq over UDP through mapped IPs, also across families', async () => {
    const { stdout } = await client.exec('dig', ['+short', '+time=2', '+tries=2', '@100.96.0.9', 'web.corp.test']);
    expect(stdout.trim()).toBe('10.20.0.2');
    // And to dnsmasq's IPv6 address from an IPv4 mapped IP (NAT64 of UDP).
    const v6 = await client.exec('dig', ['+short', '+time=2', '+tries=2', '@100.96.0.10', 'v6only.corp.test', 'AAAA']);
    expect(v6.stdout.trim()).toBe('fd20::2');
  });

  it('refuses filtered ports with ICMP administratively prohibited and unknown addresses silently', async () => {
    const refused = await client.exec('curl', ['-sS', '--max-time', '5', 'http://100.96.0.1:22/'], {
      allowFailure: true,
    });
    // Refused at once by the ICMP error ("couldn't connect"), not left to time out.
    expect(refused.code).toBe(7);
    const unknown = await client.exec('curl', ['-sS', '--max-time', '2', 'http://100.96.0.7:8080/'], {
      allowFailure: true,
    });
    expect(unknown.code).toBe(28); // timed out: dropped, never forwarded
  });

  it('survives garbage from the client and from the portal, and counts it', async () => {
    const garbage = `
const s = require('node:dgram').createSocket('udp4');
s.bind(0, '${CLIENT_TUNNEL.ipv4}', () => {
  let n = 0;
  const msgs = ['{', 'null', '{"type":"assigned_ips"}', Buffer.from([0xff, 0, 1]), 'x'.repeat(5000)];
  for (const m of msgs) s.send(m, ${CONTROL_PORT}, '${GATEWAY_TUNNEL.ipv4}', () => { if (++n === msgs.length) s.close(); });
});`;
    await client.exec('node', ['-e', garbage]);
    portal.send('not json');
    portal.send({ type: 'revoke_authorization' });
    const { stdout } = await client.exec('curl', ['-sS', '--max-time', '10', 'http://100.96.0.2:8080/']);
    expect(stdout).toContain('hello from corp');
    const metrics = await gw.exec('curl', ['-sS', 'http://127.0.0.1:9464/metrics']);
    expect(metrics.stdout).toMatch(/postern_gateway_drops_total\{reason="control_malformed"\} [1-9]/);
    expect(metrics.stdout).toMatch(/postern_gateway_clients 1/);
    expect(metrics.stdout).toMatch(/postern_gateway_flows_total [1-9]/);
    expect(gateway.text).toMatch(/100\.64\.0\.2 ~> tcp 100\.96\.0\.5:8080 v6only\.corp\.test => \[fd20::2\]:8080/);
  });

  it('reconnects to the portal after the link drops', async () => {
    portal.disconnect();
    const again = await portal.next('register_gateway', 15_000);
    expect(again.endpoint.port).toBe(51820);
  });

  it('removes the peer on revocation and cleans up the host on SIGTERM', async () => {
    portal.send({ type: 'revoke_authorization', clientId: 'device-1' });
    const cut = await client.exec('curl', ['-sS', '--max-time', '2', 'http://100.96.0.1:8080/'], {
      allowFailure: true,
    });
    expect(cut.code).not.toBe(0);
    const before = await gw.exec('nft', ['list', 'tables']);
    expect(before.stdout).toContain(`postern_gateway_${tunName}`);
    expect(await gateway.stop(5_000)).toBe(0);
    const after = await gw.exec('nft', ['list', 'tables']);
    expect(after.stdout).not.toContain('postern_gateway');
    const routes = await gw.exec('ip', ['route', 'show']);
    expect(routes.stdout).not.toContain('100.64.0.0/11');
  });
});
