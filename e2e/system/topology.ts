import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  Namespace,
  connect,
  netnsUnavailableReason,
  onTeardown,
  relayServer,
  run,
  sweepStaleNamespaces,
  type BackgroundProcess,
} from '../netns/index.js';
import { CORP_SERVERS, DEMO_GATEWAY_TOKEN, DEMO_USER, INTERNET_SERVERS, PLAN, SAAS_ALLOWLIST } from './plan.js';
import { PortalAdmin } from './portal-admin.js';
import { Processes } from './processes.js';

/**
 * The whole system on one machine (issue 8): five network namespaces — client, gateway, corp, internet, portal —
 * joined by veth pairs as `plan.ts` draws them, with the real processes in each: dnsmasq as corp's private DNS and as
 * the public DNS, small HTTP servers that say who they are and who called, `postern-portal` with the demo
 * `portal.yaml` (PGlite in the topology's temp dir), `postern-gateway`, and `postern-helper` with its TUN and DNS in
 * `resolv-conf` mode against the client namespace's own resolv.conf (`/etc/netns/<client>/resolv.conf`, never the
 * machine's). Every process is waited for until it is ready, its output is kept and logged to `<dir>/logs/`, and
 * `destroy()` removes everything; the same clean-up also runs at process exit and on Ctrl-C.
 *
 * `create()` brings up the network, DNS, HTTP and the portal; the product's daemons are started by `startGateway()`,
 * `startHelper()` and `signIn()` (or all at once by `up()`), so tests can stop, kill and restart them.
 */

export const ROOT = findRoot(import.meta.dirname);
const dist = (path: string) => join(ROOT, 'dist', path);
export const BIN = {
  portal: dist('portal/main.js'),
  gateway: dist('gateway/main.js'),
  helper: dist('helper/daemon/main.js'),
  postern: dist('helper/cli/postern.js'),
  namedHttp: dist('e2e/system/servers/named-http.js'),
  unixRelay: dist('e2e/system/servers/unix-relay.js'),
  httpPoller: dist('e2e/system/servers/http-poller.js'),
} as const;
export const DEMO_ASSETS = join(ROOT, 'assets/demo');

const TOOLS = ['dnsmasq', 'curl', 'dig', 'nft', 'conntrack', 'tcpdump', 'tshark', 'ping'] as const;

/** Why the topology cannot run here (not root, no namespaces, a tool or a build output missing), or undefined. */
export function topologyUnavailableReason(needs: readonly (keyof typeof BIN)[] = ['portal']): string | undefined {
  const reason = netnsUnavailableReason();
  if (reason) return reason;
  for (const tool of TOOLS) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (run scripts/setup-system)`;
    }
  }
  for (const name of ['namedHttp', 'unixRelay', 'httpPoller', ...needs] as const) {
    if (!existsSync(BIN[name])) return `${BIN[name]} is missing (run \`npm run build\`)`;
    const flag = FLAGS_USED[name];
    if (flag && !helpText(BIN[name]).includes(flag)) {
      return `${BIN[name]} has no ${flag} yet (this build's ${name} predates what the system topology drives)`;
    }
  }
  return undefined;
}

/** One flag per product binary that only the real daemon/CLI has (the scaffold's placeholders answer --help too). */
const FLAGS_USED: Partial<Record<keyof typeof BIN, string>> = {
  portal: '--admin-token-file',
  gateway: '--key-file',
  helper: '--dns-mode',
  postern: 'mappings',
};

function helpText(script: string): string {
  try {
    return execFileSync(process.execPath, [script, '--help'], { encoding: 'utf8', timeout: 10_000 });
  } catch (err) {
    return String((err as { stdout?: unknown }).stdout ?? '');
  }
}

/** The names of the five hosts. */
export type HostName = 'client' | 'gateway' | 'corp' | 'internet' | 'portal';

/** What a UI or script needs to drive a running topology (the demo writes it as JSON). */
export interface TopologyInfo {
  /** `ip netns exec <clientNamespace> …` runs a program on the client. */
  namespaces: Record<HostName, string>;
  /** The helper's API socket (`postern --socket …`, the desktop app's helper connection). */
  helperSocket: string;
  /** The portal as the client and gateway reach it. */
  portalUrl: string;
  /** The portal on the machine's loopback, for a browser on the host; present once `exposePortal()` ran. */
  portalHostUrl?: string;
  /** Bearer token of the portal's admin API. */
  adminTokenFile: string;
  /** A Unix socket relayed to the portal, reachable from the host. */
  portalSocket: string;
  dir: string;
  logDir: string;
}

export class SystemTopology {
  readonly processes: Processes;
  readonly admin: PortalAdmin;
  readonly portalUrl = `http://${PLAN.portal.address}:${PLAN.portal.port}`;
  readonly helperSocket: string;
  readonly logDir: string;
  /** The client's resolv.conf as the topology wrote it, before any helper touched it. */
  readonly clientResolvConf = `# the client's own resolver configuration (written by e2e/system/topology.ts)\nnameserver ${PLAN.internet.dns}\noptions edns0 timeout:2\n`;
  private readonly adminToken = randomBytes(24).toString('hex');
  private readonly unregisterTeardown: () => void;
  private hostRelay: Server | undefined;
  private portalHostUrl: string | undefined;
  private destroyed = false;

  private constructor(
    readonly dir: string,
    readonly hosts: Record<HostName, Namespace>,
  ) {
    this.logDir = join(dir, 'logs');
    mkdirSync(this.logDir, { recursive: true });
    mkdirSync(join(dir, 'helper-state'), { recursive: true });
    this.processes = new Processes(this.logDir);
    this.admin = new PortalAdmin(this.portalSocket, this.adminToken);
    this.helperSocket = join(dir, 'helper.sock');
    writeFileSync(this.adminTokenFile, `${this.adminToken}\n`, { mode: 0o600 });
    // The temp dir goes with the namespaces whatever happens (the netns library's exit and signal hooks).
    this.unregisterTeardown = onTeardown(() => rmSync(dir, { recursive: true, force: true }));
  }

  get adminTokenFile(): string {
    return join(this.dir, 'admin-token');
  }

  get portalSocket(): string {
    return join(this.dir, 'portal.sock');
  }

  get client(): Namespace {
    return this.hosts.client;
  }

  /** Creates the namespaces and links, and starts DNS, HTTP and the portal. Cleans up if any of it fails. */
  static async create(): Promise<SystemTopology> {
    sweepStaleNamespaces();
    const dir = mkdtempSync(join(tmpdir(), 'postern-system-'));
    const hosts = {} as Record<HostName, Namespace>;
    let topology: SystemTopology | undefined;
    try {
      for (const name of ['client', 'gateway', 'corp', 'internet', 'portal'] as const) {
        hosts[name] = await Namespace.create(name === 'gateway' ? 'gw' : name);
      }
      topology = new SystemTopology(dir, hosts);
      await topology.wire();
      await topology.startServices();
      return topology;
    } catch (err) {
      const logs = topology?.processes.dump() ?? '';
      if (topology) await topology.destroy();
      else for (const ns of Object.values(hosts)) await ns.destroy();
      throw new Error(`${(err as Error).message}\n${logs}`, { cause: err });
    }
  }

  /** `create()`, then the gateway and the helper, and the demo user signed in. */
  static async up(): Promise<SystemTopology> {
    const topology = await SystemTopology.create();
    try {
      await topology.startGateway();
      await topology.startHelper();
      await topology.signIn();
      return topology;
    } catch (err) {
      const logs = topology.processes.dump();
      await topology.destroy();
      throw new Error(`${(err as Error).message}\n${logs}`, { cause: err });
    }
  }

  // ---- the network ---------------------------------------------------------------------------------------------

  /** The interface names of each link end, filled in by `wire()`. */
  readonly links = { clientUplink: '', gatewayUplink: '', gatewayCorp: '' };

  private async wire(): Promise<void> {
    const { client, gateway, corp, internet, portal } = this.hosts;
    const p = PLAN;
    [this.links.clientUplink] = await connect(client, internet, {
      a: [`${p.client.address}/${p.client.prefix}`],
      b: [`${p.client.router}/${p.client.prefix}`],
    });
    [this.links.gatewayUplink] = await connect(gateway, internet, {
      a: [`${p.gateway.address}/${p.gateway.prefix}`],
      b: [`${p.gateway.router}/${p.gateway.prefix}`],
    });
    await connect(portal, internet, {
      a: [`${p.portal.address}/${p.portal.prefix}`],
      b: [`${p.portal.router}/${p.portal.prefix}`],
    });
    [this.links.gatewayCorp] = await connect(gateway, corp, {
      a: [`${p.gateway.corp}/${p.corp.prefix}`, `${p.gateway.corp6}/${p.corp.prefix6}`],
      b: [`${p.corp.address}/${p.corp.prefix}`, `${p.corp.address6}/${p.corp.prefix6}`],
    });
    // Servers live on loopback addresses of their hosts (this kernel has no dummy interfaces).
    for (const address of Object.keys(INTERNET_SERVERS).concat(p.internet.dns)) {
      await internet.exec('ip', ['addr', 'add', `${address}/32`, 'dev', 'lo']);
    }
    for (const address of Object.keys(CORP_SERVERS)) {
      const six = address.includes(':');
      await corp.exec('ip', ['addr', 'add', `${address}/${six ? 128 : 32}`, 'dev', 'lo']);
    }
    await internet.sysctl('net.ipv4.ip_forward=1');
    for (const [host, via] of [
      [client, p.client.router],
      [gateway, p.gateway.router],
      [portal, p.portal.router],
      [corp, p.gateway.corp],
    ] as const) {
      await host.exec('ip', ['route', 'add', 'default', 'via', via]);
    }
    await corp.exec('ip', ['-6', 'route', 'add', 'default', 'via', p.gateway.corp6]);
    await gateway.exec('ip', ['route', 'add', p.corp.servers4, 'via', p.corp.address]);
    await gateway.exec('ip', ['-6', 'route', 'add', p.corp.servers6, 'via', p.corp.address6]);
    await gateway.sysctl('net.ipv4.ip_forward=1');
    await gateway.sysctl('net.ipv6.conf.all.forwarding=1');
    // The gateway host is corp's edge router: corp's own traffic to the internet (its DNS forwarding public names)
    // leaves with the gateway's public address. Nothing from the internet is routed into corp.
    await nft(
      gateway,
      `table ip corp_edge {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.0.0.0/8 oifname "${this.links.gatewayUplink}" masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "${this.links.gatewayUplink}" oifname "${this.links.gatewayCorp}" ct state new drop
  }
}`,
    );
    client.writeEtc('resolv.conf', this.clientResolvConf);
  }

  private async startServices(): Promise<void> {
    const { corp, internet, portal } = this.hosts;
    const dnsArgs = (conf: string) => [
      `--conf-file=${join(DEMO_ASSETS, conf)}`,
      '--keep-in-foreground',
      '--log-facility=-',
      '--pid-file=',
    ];
    const corpDns = this.processes.start(corp, 'corp-dns', 'dnsmasq', dnsArgs('corp.dnsmasq.conf'));
    const publicDns = this.processes.start(internet, 'public-dns', 'dnsmasq', dnsArgs('internet.dnsmasq.conf'));
    const corpHttp = this.processes.start(corp, 'corp-http', process.execPath, [
      BIN.namedHttp,
      JSON.stringify({ port: 80, servers: mapValues(CORP_SERVERS, (name) => ({ name })) }),
    ]);
    const internetHttp = this.processes.start(internet, 'internet-http', process.execPath, [
      BIN.namedHttp,
      JSON.stringify({
        port: 80,
        servers: mapValues(INTERNET_SERVERS, (name) =>
          name === 'saas' ? { name, allow: [...SAAS_ALLOWLIST] } : { name },
        ),
      }),
    ]);
    const portalProcess = this.processes.start(
      portal,
      'portal',
      process.execPath,
      [
        BIN.portal,
        '--config',
        join(DEMO_ASSETS, 'portal.yaml'),
        '--listen',
        `0.0.0.0:${PLAN.portal.port}`,
        '--database',
        `pglite:${join(this.dir, 'portal-db')}`,
        '--admin-token-file',
        this.adminTokenFile,
      ],
      { POSTERN_LOG_LEVEL: process.env.POSTERN_LOG_LEVEL ?? 'info' },
    );
    const relay = this.processes.start(portal, 'portal-relay', process.execPath, [
      BIN.unixRelay,
      this.portalSocket,
      '127.0.0.1',
      String(PLAN.portal.port),
    ]);
    for (const dns of [corpDns, publicDns]) await dns.waitForOutput(/started, version/);
    for (const http of [corpHttp, internetHttp]) await http.waitForOutput(/named-http listening/);
    await relay.waitForOutput(/relaying/);
    // PGlite compiles its WebAssembly and runs initdb on the first start: allow for a slow, shared machine.
    await waitFor('the portal to answer /healthz', 90_000, () => this.admin.healthy(), portalProcess);
  }

  // ---- the product's daemons -----------------------------------------------------------------------------------

  get gatewayTokenFile(): string {
    return join(this.dir, 'gateway-token');
  }

  /** Starts `postern-gateway` in its namespace and waits until the portal lists it online. */
  async startGateway(): Promise<BackgroundProcess> {
    writeFileSync(this.gatewayTokenFile, `${DEMO_GATEWAY_TOKEN}\n`, { mode: 0o600 });
    const endpoint = `${PLAN.gateway.address}:${PLAN.gateway.port}`;
    const gateway = this.processes.start(this.hosts.gateway, 'gateway', process.execPath, [
      BIN.gateway,
      '--portal',
      this.portalUrl,
      '--token-file',
      this.gatewayTokenFile,
      '--listen',
      endpoint,
      '--endpoint',
      endpoint,
      '--dns',
      PLAN.corp.dns,
      '--tun-name',
      PLAN.gateway.tun,
      '--metrics',
      '127.0.0.1:9464',
      '--name',
      'corp-gateway',
      // A deployed gateway keeps its identity across restarts (and the portal its record and authorizations).
      '--key-file',
      join(this.dir, 'gateway.key'),
    ]);
    await gateway.waitForOutput(/portal connected/, 30_000);
    await waitFor(
      'the portal to list the gateway online',
      30_000,
      async () => (await this.admin.gateways()).some((g) => g.online && g.endpoint.host === PLAN.gateway.address),
      gateway,
    );
    return gateway;
  }

  /** SIGTERM; the gateway removes its nftables table and routes. */
  async stopGateway(): Promise<void> {
    await this.processes.stop('gateway');
  }

  /** Starts `postern-helper` in the client namespace (its TUN, DNS in resolv-conf mode) and waits for its API. */
  async startHelper(): Promise<BackgroundProcess> {
    const helper = this.processes.start(this.hosts.client, 'helper', process.execPath, [
      BIN.helper,
      '--socket',
      this.helperSocket,
      '--state-dir',
      join(this.dir, 'helper-state'),
      '--dns-mode',
      'resolv-conf',
      '--tun-name',
      PLAN.client.tun,
      '--managed-file',
      join(this.dir, 'managed.json'),
      '--log-level',
      'debug',
    ]);
    await helper.waitForOutput(/postern-helper ready/, 20_000);
    return helper;
  }

  /** `kill -9` of the helper (nothing of it gets to clean up). */
  async killHelper(): Promise<void> {
    await this.processes.stop('helper', 0);
  }

  /**
   * Signs a user in headlessly: a client token minted through the portal's admin API, handed to the helper by
   * `postern connect`, which returns once the helper is connected.
   */
  async signIn(email: string = DEMO_USER.email): Promise<void> {
    const { token } = await this.admin.mintClientToken(email);
    const tokenFile = join(this.dir, 'client-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    await this.postern(['connect', '--portal', this.portalUrl, '--token-file', tokenFile]);
    rmSync(tokenFile, { force: true });
  }

  /** Runs the `postern` CLI against this topology's helper. */
  async postern(args: readonly string[]): Promise<string> {
    return (await run(process.execPath, [BIN.postern, '--socket', this.helperSocket, ...args], { timeoutMs: 60_000 }))
      .stdout;
  }

  // ---- the host's view -----------------------------------------------------------------------------------------

  /** Serves the portal on the machine's loopback (port 0) for a browser on the host, e.g. the desktop UI. */
  async exposePortal(): Promise<string> {
    if (this.portalHostUrl) return this.portalHostUrl;
    const server = relayServer(() => createConnection(this.portalSocket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.hostRelay = server;
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('the loopback relay has no port');
    this.portalHostUrl = `http://127.0.0.1:${address.port}`;
    return this.portalHostUrl;
  }

  info(): TopologyInfo {
    return {
      namespaces: mapValues(this.hosts, (ns) => ns.name) as Record<HostName, string>,
      helperSocket: this.helperSocket,
      portalUrl: this.portalUrl,
      ...(this.portalHostUrl ? { portalHostUrl: this.portalHostUrl } : {}),
      adminTokenFile: this.adminTokenFile,
      portalSocket: this.portalSocket,
      dir: this.dir,
      logDir: this.logDir,
    };
  }

  /** Copies the logs so far to a directory of their own that outlives the topology (for a failed test). */
  keepLogs(): string {
    const kept = mkdtempSync(join(tmpdir(), 'postern-system-logs-'));
    cpSync(this.logDir, kept, { recursive: true });
    return kept;
  }

  /** Stops the daemons (so they undo their OS changes), then removes namespaces and the temp dir. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.hostRelay?.close();
    await this.processes.stopAll();
    for (const ns of Object.values(this.hosts)) await ns.destroy();
    rmSync(this.dir, { recursive: true, force: true });
    this.unregisterTeardown();
  }
}

/** Applies an nftables ruleset inside a namespace. */
export async function nft(host: Namespace, ruleset: string): Promise<void> {
  await host.exec('nft', ['-f', '-'], { input: ruleset });
}

/** Polls `check` every 100 ms until it is true; on timeout, fails with the process's output. */
export async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
  process?: BackgroundProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (process && !process.running) throw new Error(`${process.label} exited while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function mapValues<T, U>(record: Readonly<Record<string, T>>, f: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}

/** The repository root: the nearest directory above with a package.json (works from `e2e/` and from `dist/e2e/`). */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.base.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}
