import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TunDevice, type TunOpenOptions } from '../../native/index.js';
import { ADDON_CANDIDATES } from '../../native/addon.js';
import { Namespace, netnsUnavailableReason, run, type BackgroundProcess } from '../netns/index.js';
import { ICMP, ICMPV6, TCP, TCP_SYN, UDP, echoReplyFor, summarize, udp4, type PacketSummary } from './test-packets.js';

// The TUN device is created in this process's namespace under a random name and moved into a fresh test namespace
// (`ip link set NAME netns NS`): its descriptor keeps working there, so everything runs in-process. Inside, the TUN
// has 10.77.0.1/24 and fd77::1/64, so traffic to the rest of those prefixes is routed into it.

const skip = netnsUnavailableReason();
if (skip) console.warn(`skipping e2e/native TUN tests: ${skip}`);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tunInNamespace(options: Partial<TunOpenOptions> = {}): Promise<{ ns: Namespace; tun: TunDevice }> {
  const ns = await Namespace.create('tun');
  cleanups.push(() => ns.destroy());
  const tun = TunDevice.open({ name: `pt${randomBytes(4).toString('hex')}`, mtu: 1400, ...options });
  cleanups.push(() => tun.close());
  await run('ip', ['link', 'set', tun.name, 'netns', ns.name]);
  await ns.exec('ip', ['addr', 'add', '10.77.0.1/24', 'dev', tun.name]);
  await ns.exec('ip', ['addr', 'add', 'fd77::1/64', 'dev', tun.name, 'nodad']);
  await ns.exec('ip', ['link', 'set', tun.name, 'up']);
  return { ns, tun };
}

function spawn(ns: Namespace, label: string, cmd: string, args: readonly string[]): BackgroundProcess {
  const child = ns.spawn(label, cmd, args);
  cleanups.push(() => child.kill());
  return child;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Everything the device delivered, batch by batch. */
function collect(tun: TunDevice): Buffer[][] {
  const batches: Buffer[][] = [];
  tun.onPackets((batch) => batches.push(batch));
  return batches;
}

function find(batches: Buffer[][], match: (p: PacketSummary) => boolean): PacketSummary | undefined {
  for (const batch of batches) {
    for (const packet of batch) {
      const summary = summarize(packet);
      if (summary && match(summary)) return summary;
    }
  }
  return undefined;
}

/** The kernel's view of the interface: TX is what it handed to (or dropped before) the TUN reader. */
async function kernelTx(ns: Namespace, name: string): Promise<{ packets: number; dropped: number }> {
  const { stdout } = await ns.exec('ip', ['-s', '-j', 'link', 'show', 'dev', name]);
  const [link] = JSON.parse(stdout) as Array<{ stats64: { tx: { packets: number; dropped: number } } }>;
  const { packets, dropped } = link!.stats64.tx;
  return { packets, dropped };
}

/**
 * Waits until the device is quiet — everything the kernel handed over was read, and nothing new for 300 ms (its
 * queue is empty) — and returns the kernel's counters.
 */
async function settle(ns: Namespace, tun: TunDevice): Promise<{ packets: number; dropped: number }> {
  let last = -1;
  let kernel = await kernelTx(ns, tun.name);
  await waitUntil(async () => {
    await sleep(300);
    kernel = await kernelTx(ns, tun.name);
    const read = tun.stats().packetsRead;
    const quiet = read === last && read === kernel.packets;
    last = read;
    return quiet;
  }, 'the device to be quiet');
  return kernel;
}

/** A node process in the namespace that sends `count` numbered UDP datagrams to 10.77.0.2:9999 as fast as it can. */
function udpBurst(ns: Namespace, count: number): BackgroundProcess {
  const script = `
    const socket = require('node:dgram').createSocket('udp4');
    const count = ${count};
    let done = 0, failed = 0;
    socket.bind(0, '10.77.0.1', () => {
      for (let i = 0; i < count; i++) {
        const payload = Buffer.alloc(64);
        payload.writeUInt32BE(i);
        socket.send(payload, 9999, '10.77.0.2', (error) => {
          if (error) failed++;
          if (++done === count) { console.log('sent ' + (count - failed)); socket.close(); }
        });
      }
    });`;
  return spawn(ns, 'udp-burst', process.execPath, ['-e', script]);
}

const isBurst = (p: PacketSummary) => p.protocol === UDP && p.dst === '10.77.0.2' && p.dstPort === 9999;

function burstSequence(batches: Buffer[][]): number[] {
  const sequence: number[] = [];
  for (const batch of batches) {
    for (const packet of batch) {
      const summary = summarize(packet);
      if (summary && isBurst(summary)) sequence.push(summary.payload.readUInt32BE(0));
    }
  }
  return sequence;
}

describe.skipIf(skip)('TUN device (native addon) in a network namespace', () => {
  it('is created up with its MTU under the name the kernel picks, and disappears on close', async () => {
    const prefix = `pt${randomBytes(3).toString('hex')}`;
    const tun = TunDevice.open({ name: `${prefix}%d`, mtu: 1380 });
    cleanups.push(() => tun.close());
    expect(tun.name).toMatch(new RegExp(`^${prefix}\\d+$`));
    expect(tun.ifindex).toBeGreaterThan(0);
    const { stdout } = await run('ip', ['-j', 'link', 'show', 'dev', tun.name]);
    const [link] = JSON.parse(stdout) as Array<{ ifindex: number; mtu: number; flags: string[] }>;
    expect(link).toMatchObject({ ifindex: tun.ifindex, mtu: 1380 });
    expect(link!.flags).toContain('UP');

    const ns = await Namespace.create('close');
    cleanups.push(() => ns.destroy());
    await run('ip', ['link', 'set', tun.name, 'netns', ns.name]);
    await ns.exec('ip', ['link', 'show', 'dev', tun.name]);
    tun.close();
    tun.close(); // idempotent
    expect(tun.closed).toBe(true);
    const gone = await ns.exec('ip', ['link', 'show', 'dev', tun.name], { allowFailure: true });
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('does not exist');
    expect(() => tun.writePacket(Buffer.from([0x45]))).toThrow('the TUN device is closed');
    expect(tun.stats().packetsWritten).toBe(0);
  });

  it('reads the echo requests of ping and ping -6, and the replies it writes reach ping', async () => {
    const { ns, tun } = await tunInNamespace();
    const requests: PacketSummary[] = [];
    tun.onPackets((batch) => {
      for (const packet of batch) {
        const p = summarize(packet);
        const echo = (p?.protocol === ICMP && p.icmpType === 8) || (p?.protocol === ICMPV6 && p.icmpType === 128);
        if (!p || !echo) continue;
        requests.push(p);
        expect(tun.writePacket(echoReplyFor(packet))).toBe(true);
      }
    });
    // ping exits 0 only when a reply came back.
    const v4 = await ns.exec('ping', ['-c', '1', '-W', '5', '10.77.0.2']);
    expect(v4.stdout).toContain('1 received');
    const v6 = await ns.exec('ping', ['-6', '-c', '1', '-W', '5', 'fd77::2']);
    expect(v6.stdout).toContain('1 received');
    expect(requests).toEqual([
      expect.objectContaining({ version: 4, src: '10.77.0.1', dst: '10.77.0.2', protocol: ICMP, icmpType: 8 }),
      expect.objectContaining({ version: 6, src: 'fd77::1', dst: 'fd77::2', protocol: ICMPV6, icmpType: 128 }),
    ]);
    expect(tun.stats()).toMatchObject({ packetsWritten: 2, writesDropped: 0, writeErrors: 0 });
  });

  it('reads the TCP SYNs of curl over IPv4 and IPv6', async () => {
    const { ns, tun } = await tunInNamespace();
    const batches = collect(tun);
    for (const [url, dst] of [
      ['http://10.77.0.3:8080/', '10.77.0.3'],
      ['http://[fd77::3]:8080/', 'fd77::3'],
    ] as const) {
      const curl = spawn(ns, 'curl', 'curl', ['-sS', '--max-time', '10', url]);
      const isSyn = (p: PacketSummary) => p.protocol === TCP && p.dst === dst && p.dstPort === 8080;
      await waitUntil(() => find(batches, isSyn) !== undefined, `curl's SYN to ${url}`);
      const syn = find(batches, isSyn)!;
      expect(syn.tcpFlags! & TCP_SYN).toBe(TCP_SYN);
      expect(syn.src).toBe(dst.includes(':') ? 'fd77::1' : '10.77.0.1');
      await curl.kill();
    }
  });

  it('writes UDP datagrams that reach a socket, and the kernel drops one with a wrong checksum', async () => {
    const { ns, tun } = await tunInNamespace();
    const server = spawn(ns, 'udp-server', process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       s.on('message', (m, r) => console.log('got ' + m + ' from ' + r.address + ':' + r.port));
       s.bind(5555, '10.77.0.1', () => console.log('ready'));`,
    ]);
    await server.waitForOutput(/ready/);
    const datagram = (text: string, corrupt = false) =>
      udp4('10.77.0.9', 4444, '10.77.0.1', 5555, Buffer.from(text), corrupt);

    // The kernel accepts the corrupt one from the TUN and drops it in UDP, before the good ones written after it.
    expect(tun.writePacket(datagram('corrupt', true))).toBe(true);
    expect(tun.write([datagram('one'), datagram('two'), datagram('three')])).toBe(3);
    await server.waitForOutput(/got three/);
    expect(server.text).toBe(
      'ready\ngot one from 10.77.0.9:4444\ngot two from 10.77.0.9:4444\ngot three from 10.77.0.9:4444\n',
    );

    // Not an IP packet: rejected by the kernel and counted, not thrown.
    expect(tun.write([Buffer.from([0x00, 0x01, 0x02, 0x03])])).toBe(0);
    expect(tun.stats()).toMatchObject({
      packetsWritten: 4,
      bytesWritten: 4 * 28 + 'corrupt'.length + 'one'.length + 'two'.length + 'three'.length,
      writeErrors: 1,
      writesDropped: 0,
      lastWriteError: 'EINVAL',
    });
  });

  it('delivers a burst of 10,000 datagrams in batches, in order, with consistent counters', async () => {
    const { ns, tun } = await tunInNamespace();
    // A kernel queue that holds the whole burst, so nothing is dropped even when the reader falls behind a sender
    // on a busy machine (the default 500 would drop; the back-pressure tests below rely on that).
    await ns.exec('ip', ['link', 'set', 'dev', tun.name, 'txqueuelen', '20000']);
    const batches = collect(tun);
    const sender = udpBurst(ns, 10_000);
    await sender.waitForOutput(/sent \d+/, 30_000);
    expect(sender.text).toContain('sent 10000');
    await waitUntil(() => burstSequence(batches).length >= 10_000, 'the burst to be read');
    expect(burstSequence(batches)).toEqual(Array.from({ length: 10_000 }, (_, i) => i)); // all, in order

    const packets = batches.flat();
    const stats = tun.stats();
    expect(stats.packetsRead).toBe(packets.length);
    expect(stats.batchesRead).toBe(batches.length);
    expect(stats.bytesRead).toBe(packets.reduce((sum, p) => sum + p.length, 0));
    expect(stats.packetsDiscarded).toBe(0);
    const kernel = await kernelTx(ns, tun.name);
    expect(kernel).toEqual({ packets: stats.packetsRead, dropped: 0 }); // counted when the reader takes a packet
    const perBatch = packets.length / batches.length;
    console.log(`burst: ${packets.length} packets in ${batches.length} batches (${perBatch.toFixed(1)} per batch)`);
    expect(perBatch).toBeGreaterThan(1);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(128);
  });

  it('paused, lets the kernel queue fill and drop, then reads what was queued', async () => {
    const { ns, tun } = await tunInNamespace();
    const batches = collect(tun);
    tun.pause();
    expect(tun.paused).toBe(true);
    const sender = udpBurst(ns, 3_000);
    await sender.waitForOutput(/sent \d+/, 30_000);
    const sent = Number(/sent (\d+)/.exec(sender.text)![1]);
    await sleep(200);
    expect(burstSequence(batches)).toEqual([]);
    const paused = await kernelTx(ns, tun.name);
    expect(paused.dropped).toBeGreaterThan(0);

    tun.resume();
    const kernel = await settle(ns, tun);
    const sequence = burstSequence(batches);
    // The kernel kept the oldest part of the burst, at most its queue (txqueuelen 500), and dropped the rest.
    expect(sequence.length).toBeGreaterThan(0);
    expect(sequence.length).toBeLessThanOrEqual(500);
    expect(sequence).toEqual(Array.from({ length: sequence.length }, (_, i) => i));
    expect(kernel.dropped).toBe(paused.dropped); // nothing more once reading resumed
    expect(sequence.length + kernel.dropped).toBeGreaterThanOrEqual(sent);
    expect(tun.stats()).toMatchObject({ packetsRead: kernel.packets, packetsDiscarded: 0 });
  });

  it('stops reading while a slow handler is behind, so the kernel drops instead of the process', async () => {
    const { ns, tun } = await tunInNamespace({ maxBatchPackets: 8, maxPendingBatches: 1 });
    let handled = 0;
    let readAhead = 0;
    const sequence: number[] = [];
    tun.onPackets((batch) => {
      handled += batch.length;
      for (const packet of batch) {
        const p = summarize(packet);
        if (p && isBurst(p)) sequence.push(p.payload.readUInt32BE(0));
      }
      const until = Date.now() + 5; // a handler that cannot keep up
      while (Date.now() < until);
      // With one pending batch allowed (this one), the reader must not have read anything more meanwhile.
      readAhead = Math.max(readAhead, tun.stats().packetsRead - handled);
    });
    const sender = udpBurst(ns, 3_000);
    await sender.waitForOutput(/sent \d+/, 30_000);
    const sent = Number(/sent (\d+)/.exec(sender.text)![1]);
    const kernel = await settle(ns, tun);
    expect(readAhead).toBe(0);
    expect(kernel.dropped).toBeGreaterThan(0);
    expect(sequence.length + kernel.dropped).toBeGreaterThanOrEqual(sent);
    expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    expect(tun.stats()).toMatchObject({ packetsRead: kernel.packets, packetsDiscarded: 0 });
  });

  it('reports a read error when the interface is deleted under it', async () => {
    const { ns, tun } = await tunInNamespace();
    collect(tun);
    const errors: NodeJS.ErrnoException[] = [];
    tun.onError((error) => errors.push(error));
    await ns.exec('ip', ['link', 'del', 'dev', tun.name]);
    await waitUntil(() => errors.length > 0, 'the read error');
    expect(errors[0]).toMatchObject({ code: 'EBADFD' });
    expect(errors[0]!.message).toMatch(/stopped reading.*the TUN interface was removed/);
    expect(tun.writePacket(udp4('10.77.0.9', 1, '10.77.0.1', 2, Buffer.from('x')))).toBe(false);
    expect(tun.stats().writeErrors).toBe(1);
    tun.close();
  });

  it('stops delivering once closed, even with batches in flight', async () => {
    const { ns, tun } = await tunInNamespace({ maxBatchPackets: 4, maxPendingBatches: 16 });
    let afterClose = 0;
    let batches = 0;
    tun.onPackets(() => {
      if (tun.closed) afterClose++;
      if (++batches === 1) tun.close();
    });
    const sender = udpBurst(ns, 2_000);
    await sender.wait(); // its sends start failing once the interface (and the route) is gone
    await sleep(100);
    expect(batches).toBe(1);
    expect(afterClose).toBe(0);
    const stats = tun.stats();
    expect(stats.packetsRead).toBeGreaterThanOrEqual(1);
    const gone = await ns.exec('ip', ['link', 'show', 'dev', tun.name], { allowFailure: true });
    expect(gone.code).not.toBe(0);
  });
});

// A device in a child `node` (the compiled dist/, inside the namespace): when does it keep the process alive?
const distIndex = fileURLToPath(new URL('../../dist/native/index.js', import.meta.url));

describe.skipIf(skip)('TUN device and the event loop (child processes)', () => {
  const script = `
    const { TunDevice } = await import(process.env.POSTERN_NATIVE);
    const mode = process.env.MODE;
    const tun = TunDevice.open({ name: 'ptexit', mtu: 1400 });
    if (mode !== 'no-handler') tun.onPackets(() => {
      if (mode === 'throwing') throw new Error('boom from the packet handler');
    });
    if (mode === 'unref') tun.unref();
    if (mode === 'paused') tun.pause();
    if (mode === 'closed') tun.close();
    console.log('open ' + tun.name);
    if (mode === 'process.exit') setTimeout(() => process.exit(0), 100);
    if (mode === 'throwing') {
      const { execFileSync } = await import('node:child_process');
      execFileSync('ip', ['addr', 'add', '10.79.0.1/24', 'dev', tun.name]);
      (await import('node:dgram')).createSocket('udp4').send('x', 9, '10.79.0.2');
    }`;

  function child(ns: Namespace, mode: string, uid?: number): BackgroundProcess {
    if (!existsSync(distIndex)) throw new Error(`${distIndex} is missing: build with \`npx tsc -b\` first`);
    const node = [process.execPath, '--input-type=module', '-e', script];
    const [cmd, ...args] =
      uid === undefined ? node : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...node];
    const proc = ns.spawn(`tun-${mode}`, cmd!, args, {
      env: { ...process.env, MODE: mode, POSTERN_NATIVE: uid === undefined ? distIndex : readableCopyOfDist() },
    });
    cleanups.push(() => proc.kill());
    return proc;
  }

  it.each(['no-handler', 'unref', 'paused', 'closed', 'process.exit'])(
    'lets the process exit when %s',
    async (mode) => {
      const ns = await Namespace.create('exit');
      cleanups.push(() => ns.destroy());
      const proc = child(ns, mode);
      await proc.waitForOutput(/open ptexit/);
      const exited = await Promise.race([proc.wait().then(() => true), sleep(5_000).then(() => false)]);
      expect(exited, proc.text).toBe(true);
      expect(proc.child.exitCode, proc.text).toBe(0);
      const gone = await ns.exec('ip', ['link', 'show', 'dev', 'ptexit'], { allowFailure: true });
      expect(gone.code).not.toBe(0);
    },
  );

  it('keeps the process alive while reading, and the interface goes with the process', async () => {
    const ns = await Namespace.create('alive');
    cleanups.push(() => ns.destroy());
    const proc = child(ns, 'reading');
    await proc.waitForOutput(/open ptexit/);
    await sleep(1_000);
    expect(proc.running).toBe(true);
    await ns.exec('ip', ['link', 'show', 'dev', 'ptexit']);
    await proc.kill();
    const gone = await ns.exec('ip', ['link', 'show', 'dev', 'ptexit'], { allowFailure: true });
    expect(gone.code).not.toBe(0);
  });

  it('turns an exception of the packet handler into an uncaught exception', async () => {
    const ns = await Namespace.create('throw');
    cleanups.push(() => ns.destroy());
    const proc = child(ns, 'throwing');
    const exited = await Promise.race([proc.wait().then(() => true), sleep(10_000).then(() => false)]);
    expect(exited, proc.text).toBe(true);
    expect(proc.child.exitCode).toBe(1);
    expect(proc.text).toContain('Error: boom from the packet handler');
  });

  it('tells a process without CAP_NET_ADMIN why it cannot open a device', async () => {
    const ns = await Namespace.create('eperm');
    cleanups.push(() => ns.destroy());
    const proc = child(ns, 'reading', 65534);
    await proc.wait();
    expect(proc.child.exitCode).not.toBe(0);
    expect(proc.text).toContain('cannot open TUN device "ptexit": ioctl(TUNSETIFF): Operation not permitted');
    expect(proc.text).toContain('needs root or CAP_NET_ADMIN');
    expect(proc.text).toContain("code: 'EPERM'");
  });
});

/**
 * The compiled module and the addon copied where any user can read them, in the package layout `addon.ts` looks
 * for: the checkout may sit in a directory only root can enter (a CI clone under `mktemp -d` is mode 0700).
 */
function readableCopyOfDist(): string {
  const root = mkdtempSync(join(tmpdir(), 'postern-native-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const dist = join(root, 'dist', 'native');
  const release = join(root, 'native', 'build', 'Release');
  mkdirSync(dist, { recursive: true });
  mkdirSync(release, { recursive: true });
  const distDir = dirname(distIndex);
  for (const file of readdirSync(distDir).filter((f) => f.endsWith('.js'))) {
    copyFileSync(join(distDir, file), join(dist, file));
  }
  copyFileSync(
    ADDON_CANDIDATES.find((p) => existsSync(p))!,
    join(release, 'postern_native.node'),
  );
  // mkdtemp makes the root 0700, and the umask may be as strict.
  for (const dir of [root, join(root, 'dist'), dist, join(root, 'native'), join(root, 'native', 'build'), release]) {
    chmodSync(dir, 0o755);
    for (const file of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile())) {
      chmodSync(join(dir, file.name), 0o644);
    }
  }
  return join(dist, 'index.js');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
