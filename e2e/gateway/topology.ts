import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Endpoint, TunnelAddresses } from '../../protocol/resources.js';
import { CONTROL_PORT } from '../../protocol/tunnel-control.js';
import { Namespace, connect, netnsUnavailableReason, run, type BackgroundProcess } from '../netns/index.js';

/**
 * The gateway tests' network: a client namespace (wireguard-go + wg as the client's WireGuard), the gateway's, and a
 * "corp" namespace with an HTTP server (both families) and dnsmasq as the site's DNS:
 *
 *   client 10.10.0.1 ── veth ── 10.10.0.2 gateway 10.20.0.1/fd20::1 ── veth ── 10.20.0.2/fd20::2 corp
 *
 * Corp's names: web, dns → 10.20.0.2 (A only); v6only → fd20::2 (AAAA only); dns6 → fd20::2; outside.test → 10.20.0.2.
 */

export const ROOT = resolve(import.meta.dirname, '../..');
export const GATEWAY_ENDPOINT: Endpoint = { host: '10.10.0.2', port: 51820 };

/** Why these tests cannot run here, or undefined. */
export function gatewayTestsUnavailableReason(): string | undefined {
  const reason = netnsUnavailableReason();
  if (reason) return reason;
  for (const tool of ['wireguard-go', 'wg', 'dnsmasq', 'curl', 'dig', 'nft', 'ping']) {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (run scripts/setup-system)`;
    }
  }
  return undefined;
}

const HTTP_SERVER = `
require('node:http')
  .createServer((req, res) => res.end('hello from corp; you are ' + req.socket.remoteAddress + '\\n'))
  .listen(8080, '::', () => console.log('listening'));
`;

/** Sends one control message from the client's tunnel address and prints the gateway's answer (retrying). */
const CONTROL_CLIENT = `
const [src, dst, port, message] = process.argv.slice(1);
const s = require('node:dgram').createSocket(src.includes(':') ? 'udp6' : 'udp4');
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

export class GatewayTopology {
  readonly background: BackgroundProcess[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'postern-gw-e2e-'));
  readonly tunName = `pgw${randomBytes(3).toString('hex')}`;
  readonly wgName = `pwc${randomBytes(3).toString('hex')}`;

  private constructor(
    readonly client: Namespace,
    readonly gw: Namespace,
    readonly corp: Namespace,
  ) {}

  static async create(): Promise<GatewayTopology> {
    await run('npx', ['tsc', '-b'], { timeoutMs: 120_000 });
    const t = new GatewayTopology(
      await Namespace.create('client'),
      await Namespace.create('gw'),
      await Namespace.create('corp'),
    );
    await connect(t.client, t.gw, { a: ['10.10.0.1/24'], b: ['10.10.0.2/24'] });
    await connect(t.gw, t.corp, { a: ['10.20.0.1/24', 'fd20::1/64'], b: ['10.20.0.2/24', 'fd20::2/64'] });
    const http = t.spawn(t.corp, 'http', 'node', ['-e', HTTP_SERVER]);
    await http.waitForOutput(/listening/);
    t.spawn(t.corp, 'dnsmasq', 'dnsmasq', [
      '--keep-in-foreground',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--listen-address=10.20.0.2,fd20::2',
      `--pid-file=${join(t.dir, 'dnsmasq.pid')}`,
      '--host-record=web.corp.test,10.20.0.2',
      '--host-record=v6only.corp.test,fd20::2',
      '--host-record=dns.corp.test,10.20.0.2',
      '--host-record=dns6.corp.test,fd20::2',
      '--host-record=outside.test,10.20.0.2',
      '--log-queries',
      '--log-facility=-',
    ]);
    const wait =
      'for i in $(seq 50); do dig +short +time=1 @10.20.0.2 web.corp.test && exit 0; sleep 0.1; done; exit 1';
    await t.corp.exec('sh', ['-c', wait]);
    return t;
  }

  spawn(ns: Namespace, label: string, cmd: string, args: readonly string[]): BackgroundProcess {
    const process = ns.spawn(label, cmd, args);
    this.background.push(process);
    return process;
  }

  /** The real `postern-gateway` in the gateway namespace. */
  startGateway(portalUrl: string, token: string, extra: readonly string[] = []): BackgroundProcess {
    writeFileSync(join(this.dir, 'gateway-token'), `${token}\n`);
    return this.spawn(this.gw, 'gateway', 'node', [
      join(ROOT, 'dist/gateway/main.js'),
      '--portal',
      portalUrl,
      '--token-file',
      join(this.dir, 'gateway-token'),
      '--listen',
      `${GATEWAY_ENDPOINT.host}:${GATEWAY_ENDPOINT.port}`,
      '--endpoint',
      `${GATEWAY_ENDPOINT.host}:${GATEWAY_ENDPOINT.port}`,
      '--dns',
      '10.20.0.2',
      '--tun-name',
      this.tunName,
      ...extra,
    ]);
  }

  /** A fresh WireGuard key pair for the client (from `wg`). */
  async clientKeys(): Promise<{ privateKeyFile: string; publicKey: string }> {
    const key = (await run('wg', ['genkey'])).stdout.trim();
    writeFileSync(join(this.dir, 'client.key'), key);
    return {
      privateKeyFile: join(this.dir, 'client.key'),
      publicKey: (await run('wg', ['pubkey'], { input: key })).stdout.trim(),
    };
  }

  /**
   * The client's side of the tunnel: wireguard-go with the gateway as peer, the client's tunnel addresses, and routes
   * for the mapped ranges and the gateway's tunnel addresses.
   */
  async connectClient(options: {
    privateKeyFile: string;
    presharedKey: string;
    gatewayPublicKey: string;
    client: TunnelAddresses;
    gateway: TunnelAddresses;
  }): Promise<void> {
    const wg = this.wgName;
    this.spawn(this.client, 'wireguard-go', 'wireguard-go', ['-f', wg]);
    await this.client.exec('sh', [
      '-c',
      `for i in $(seq 50); do ip link show ${wg} && exit 0; sleep 0.1; done; exit 1`,
    ]);
    writeFileSync(join(this.dir, 'psk'), options.presharedKey);
    const gateway4 = `${options.gateway.ipv4}/32`;
    const gateway6 = `${options.gateway.ipv6}/128`;
    await this.client.exec('wg', [
      'set',
      wg,
      'private-key',
      options.privateKeyFile,
      'peer',
      options.gatewayPublicKey,
      'preshared-key',
      join(this.dir, 'psk'),
      'endpoint',
      `${GATEWAY_ENDPOINT.host}:${GATEWAY_ENDPOINT.port}`,
      'allowed-ips',
      `${gateway4},100.96.0.0/11,${gateway6},fd00:2021:1111:8000::/107`,
    ]);
    await this.client.exec('ip', ['addr', 'add', `${options.client.ipv4}/32`, 'dev', wg]);
    await this.client.exec('ip', ['addr', 'add', `${options.client.ipv6}/128`, 'dev', wg, 'nodad']);
    await this.client.exec('ip', ['link', 'set', wg, 'up']);
    for (const route of [gateway4, '100.96.0.0/11']) await this.client.exec('ip', ['route', 'add', route, 'dev', wg]);
    for (const route of [gateway6, 'fd00:2021:1111:8000::/107']) {
      await this.client.exec('ip', ['-6', 'route', 'add', route, 'dev', wg]);
    }
  }

  /** Sends a control message from `src` (a client tunnel address) to the gateway's `dst`; the parsed answer. */
  async control(src: string, dst: string, message: unknown): Promise<unknown> {
    const args = ['-e', CONTROL_CLIENT, src, dst, String(CONTROL_PORT), JSON.stringify(message)];
    return JSON.parse((await this.client.exec('node', args)).stdout);
  }

  async curl(url: string, maxTime = 10): Promise<{ stdout: string; stderr: string; code: number }> {
    return this.client.exec('curl', ['-sS', '--max-time', String(maxTime), url], { allowFailure: true });
  }

  async destroy(): Promise<void> {
    for (const p of this.background.reverse()) await p.stop();
    for (const ns of [this.client, this.gw, this.corp]) await ns.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
