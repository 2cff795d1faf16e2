/**
 * Pieces of the WireGuard interop tests: wireguard-go configured with `wg` inside a namespace, and our driver
 * (driver.ts) running inside another one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BackgroundProcess, run, type Namespace } from '../netns/index.js';
import { DriverEvent, type DriverCommand, type DriverConfig } from './driver-protocol.js';

/** The repository root, whether this runs from e2e/wireguard (vitest) or dist/e2e/wireguard (node). */
const repo = ((): string => {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  while (!existsSync(`${dir}tsconfig.base.json`)) dir = fileURLToPath(new URL('..', `file://${dir}`));
  return dir;
})();
/** The compiled driver; `ensureBuilt` refreshes it. */
export const DRIVER_JS = `${repo}dist/e2e/wireguard/driver.js`;

/** Compiles the projects the driver needs (incremental: quick when nothing changed). */
export async function ensureBuilt(): Promise<void> {
  await run('npx', ['tsc', '-b', `${repo}e2e`], { timeoutMs: 120_000 });
  if (!existsSync(DRIVER_JS)) throw new Error(`${DRIVER_JS} missing after tsc -b`);
}

export async function wgKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const privateKey = (await run('wg', ['genkey'])).stdout.trim();
  const publicKey = (await run('wg', ['pubkey'], { input: `${privateKey}\n` })).stdout.trim();
  return { privateKey, publicKey };
}

export interface WireguardGoPeer {
  publicKey: string;
  presharedKey?: string;
  endpoint?: string;
  allowedIps: string[];
  persistentKeepalive?: number;
}

/** A wireguard-go interface in `ns`, configured with `wg` and given `address`. */
export class WireguardGo {
  private constructor(
    readonly ns: Namespace,
    readonly name: string,
    readonly process: BackgroundProcess,
  ) {}

  static async start(
    ns: Namespace,
    options: { privateKey: string; listenPort: number; address: string; peers: WireguardGoPeer[]; mtu?: number },
  ): Promise<WireguardGo> {
    const name = `wg${randomBytes(3).toString('hex')}`;
    const process = ns.spawn('wireguard-go', 'wireguard-go', ['-f', name], {
      env: { ...globalThis.process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'verbose' },
    });
    const wg = new WireguardGo(ns, name, process);
    await waitUntil(async () => (await ns.exec('ip', ['link', 'show', name], { allowFailure: true })).code === 0, 5000);
    await withKeyFile(options.privateKey, (file) =>
      ns.exec('wg', ['set', name, 'private-key', file, 'listen-port', String(options.listenPort)]),
    );
    for (const peer of options.peers) await wg.setPeer(peer);
    await ns.exec('ip', ['addr', 'add', options.address, 'dev', name]);
    if (options.mtu) await ns.exec('ip', ['link', 'set', name, 'mtu', String(options.mtu)]);
    await ns.exec('ip', ['link', 'set', name, 'up']);
    return wg;
  }

  async setPeer(peer: WireguardGoPeer): Promise<void> {
    const args = ['set', this.name, 'peer', peer.publicKey, 'allowed-ips', peer.allowedIps.join(',')];
    if (peer.endpoint) args.push('endpoint', peer.endpoint);
    if (peer.persistentKeepalive) args.push('persistent-keepalive', String(peer.persistentKeepalive));
    if (!peer.presharedKey) {
      await this.ns.exec('wg', args);
      return;
    }
    await withKeyFile(peer.presharedKey, (file) => this.ns.exec('wg', [...args, 'preshared-key', file]));
  }

  /** `wg show <if> dump` for the peers: endpoint, latest handshake (Unix seconds) and transfer. */
  async peers(): Promise<{ publicKey: string; endpoint: string; latestHandshake: number; rx: number; tx: number }[]> {
    const { stdout } = await this.ns.exec('wg', ['show', this.name, 'dump']);
    return stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => {
        const [publicKey, , endpoint, , latestHandshake, rx, tx] = line.split('\t');
        return {
          publicKey: publicKey!,
          endpoint: endpoint!,
          latestHandshake: Number(latestHandshake),
          rx: Number(rx),
          tx: Number(tx),
        };
      });
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }
}

/** Our driver process inside a namespace, with its events as they arrive. */
export class Driver {
  readonly events: DriverEvent[] = [];
  private readonly stderr: string[] = [];

  private constructor(readonly process: BackgroundProcess) {
    createInterface({ input: process.child.stdout! }).on('line', (line) => {
      const parsed = DriverEvent.safeParse(JSON.parse(line));
      this.events.push(parsed.success ? parsed.data : { event: 'error', message: `unparsable: ${line}` });
    });
    process.child.stderr?.on('data', (d: Buffer) => this.stderr.push(d.toString()));
  }

  static async start(ns: Namespace, config: DriverConfig): Promise<Driver> {
    const process = BackgroundProcess.start(
      `driver@${ns.name}`,
      'ip',
      ['netns', 'exec', ns.name, 'node', DRIVER_JS, JSON.stringify(config)],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const driver = new Driver(process);
    await driver.waitFor((e) => e.event === 'ready', 10_000);
    return driver;
  }

  get port(): number {
    const ready = this.events.find((e) => e.event === 'ready');
    return ready?.event === 'ready' ? ready.port : -1;
  }

  command(command: DriverCommand): void {
    this.process.child.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** Resolves with the first event (from `since` on) that matches; rejects on timeout or exit. */
  async waitFor<E extends DriverEvent>(
    match: (event: DriverEvent) => event is E,
    timeoutMs?: number,
    since?: number,
  ): Promise<E>;
  async waitFor(match: (event: DriverEvent) => boolean, timeoutMs?: number, since?: number): Promise<DriverEvent>;
  async waitFor(match: (event: DriverEvent) => boolean, timeoutMs = 10_000, since = 0): Promise<DriverEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(since).find(match);
      if (found) return found;
      if (!this.process.running) throw new Error(`driver exited: ${this.stderr.join('')}`);
      if (Date.now() > deadline) {
        throw new Error(
          `driver: no matching event in ${timeoutMs} ms; events: ${JSON.stringify(this.events.slice(-20))}\n${this.stderr.join('')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stats(): Promise<Extract<DriverEvent, { event: 'stats' }>> {
    const since = this.events.length;
    this.command({ cmd: 'stats' });
    return this.waitFor((e): e is Extract<DriverEvent, { event: 'stats' }> => e.event === 'stats', 5000, since);
  }

  async stop(): Promise<void> {
    this.process.child.stdin!.end();
    await this.process.stop();
  }

  get log(): string {
    return this.stderr.join('');
  }
}

/**
 * `wg` reads keys from files only (and /dev/stdin fails on the socket pairs Node uses for a child's stdin), so keys
 * go through a private temporary file that is removed at once.
 */
async function withKeyFile<T>(key: string, use: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(`${tmpdir()}/postern-wg-`);
  const file = `${dir}/key`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  try {
    return await use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A small HTTP server in `ns` for integrity checks: GET /blob sends `bytes` pseudo-random bytes, GET /blob.sha256
 * their SHA-256 (hex), and PUT answers the SHA-256 of the body it received.
 */
export async function startBlobServer(
  ns: Namespace,
  address: string,
  port: number,
  bytes: number,
): Promise<BackgroundProcess> {
  const script = `
    const http = require('node:http'); const crypto = require('node:crypto');
    const blob = Buffer.alloc(${bytes}); let x = 1;
    for (let i = 0; i < blob.length; i++) { x = (x * 1103515245 + 12345) >>> 0; blob[i] = x >>> 24; }
    http.createServer((req, res) => {
      if (req.url === '/blob.sha256') return res.end(crypto.createHash('sha256').update(blob).digest('hex'));
      if (req.method === 'GET') { res.setHeader('content-length', blob.length); return res.end(blob); }
      const h = crypto.createHash('sha256'); req.on('data', (d) => h.update(d)); req.on('end', () => res.end(h.digest('hex')));
    }).listen(${port}, '${address}', () => console.log('listening'));`;
  const server = ns.spawn('blob-server', 'node', ['-e', script]);
  await server.waitForOutput(/listening/, 10_000);
  return server;
}

export async function waitUntil(condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
