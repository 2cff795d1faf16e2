import { execFileSync, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { BackgroundProcess, run } from './run.js';

/**
 * Network namespaces as test hosts. Every namespace this process creates is named `pt<pid>-<label>-<random>` and is
 * removed on `destroy()`, and again at process exit as a safety net (also after a failed test or Ctrl-C). Namespaces
 * left behind by a process that died are swept by `sweepStaleNamespaces()`. Tests never touch namespaces they did
 * not create, so several test runs can share a machine.
 */

const PREFIX = `pt${process.pid}-`;
const live = new Set<string>();
const teardowns = new Set<() => void>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', teardownSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      teardownSync();
      process.kill(process.pid, signal);
    });
  }
}

function teardownSync(): void {
  for (const teardown of [...teardowns].reverse()) {
    teardowns.delete(teardown);
    try {
      teardown();
    } catch {
      // the safety net goes on with the rest
    }
  }
  for (const name of live) deleteNamespaceSync(name);
}

/**
 * Registers synchronous clean-up (e.g. removing a temp dir) for the same safety net as the namespaces: it runs at
 * process exit and on SIGINT/SIGTERM, before the namespaces are deleted. Returns a function that unregisters it, for
 * when the owner cleaned up normally.
 */
export function onTeardown(teardown: () => void): () => void {
  installExitHook();
  teardowns.add(teardown);
  return () => teardowns.delete(teardown);
}

function deleteNamespaceSync(name: string): void {
  try {
    // Kill what still runs inside, so the namespace really goes away.
    const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    // already deleted
  }
  rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  live.delete(name);
}

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespace tests need root (run as root or in CI)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 is not installed (run scripts/setup-system)';
  }
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing';
  return undefined;
}

/** Deletes namespaces of earlier test processes that no longer exist. */
export function sweepStaleNamespaces(): void {
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^pt(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    if (existsSync(`/proc/${m[1]}`)) continue;
    deleteNamespaceSync(name);
  }
}

export class Namespace {
  private constructor(readonly name: string) {}

  /** Creates a namespace with loopback up. `label` only helps reading `ip netns list`. */
  static async create(label: string): Promise<Namespace> {
    installExitHook();
    const name = `${PREFIX}${label}-${randomBytes(3).toString('hex')}`;
    await run('ip', ['netns', 'add', name]);
    live.add(name);
    const ns = new Namespace(name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs a program inside the namespace. */
  exec(cmd: string, args: readonly string[], options?: Parameters<typeof run>[2]): ReturnType<typeof run> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], options);
  }

  /** Starts a long-running program inside the namespace. */
  spawn(label: string, cmd: string, args: readonly string[], options: SpawnOptions = {}): BackgroundProcess {
    return BackgroundProcess.start(`${label}@${this.name}`, 'ip', ['netns', 'exec', this.name, cmd, ...args], options);
  }

  /** Sets a sysctl inside the namespace, e.g. `net.ipv4.ip_forward=1`. */
  async sysctl(setting: string): Promise<void> {
    await this.exec('sysctl', ['-qw', setting]);
  }

  /**
   * Gives the namespace its own `/etc/resolv.conf` (and optionally hosts file) through `/etc/netns/<name>/`, which
   * `ip netns exec` bind-mounts over the real ones; the machine's own files are never touched.
   */
  writeEtc(file: 'resolv.conf' | 'hosts', content: string): string {
    const path = this.etcPath(file);
    mkdirSync(`/etc/netns/${this.name}`, { recursive: true });
    writeFileSync(path, content);
    return path;
  }

  /** Where the namespace's own copy of an `/etc` file lives on the machine (what programs inside see). */
  etcPath(file: 'resolv.conf' | 'hosts'): string {
    return `/etc/netns/${this.name}/${file}`;
  }

  async destroy(): Promise<void> {
    deleteNamespaceSync(this.name);
  }
}

export interface VethOptions {
  /** Addresses with prefix, e.g. `10.0.0.1/24` or `fd00::1/64`, for each end. */
  a?: readonly string[];
  b?: readonly string[];
  mtu?: number;
}

/** A veth pair between two namespaces, both ends up. Returns the interface names (a's end, b's end). */
export async function connect(a: Namespace, b: Namespace, options: VethOptions = {}): Promise<[string, string]> {
  const id = randomBytes(4).toString('hex');
  const ifA = `va${id}`;
  const ifB = `vb${id}`;
  await run('ip', ['link', 'add', ifA, 'netns', a.name, 'type', 'veth', 'peer', 'name', ifB, 'netns', b.name]);
  for (const [ns, ifname, addrs] of [
    [a, ifA, options.a ?? []],
    [b, ifB, options.b ?? []],
  ] as const) {
    if (options.mtu) await ns.exec('ip', ['link', 'set', ifname, 'mtu', String(options.mtu)]);
    for (const addr of addrs) {
      // `nodad`: IPv6 addresses are usable at once instead of after duplicate address detection.
      await ns.exec('ip', ['addr', 'add', addr, 'dev', ifname, ...(addr.includes(':') ? ['nodad'] : [])]);
    }
    await ns.exec('ip', ['link', 'set', ifname, 'up']);
  }
  return [ifA, ifB];
}
