/**
 * Interop with wireguard-go, configured with `wg`, across two network namespaces joined by a veth pair:
 *
 *   ns "ours": our driver (driver.ts: UDP socket + Device + TUN from native/), tunnel address 10.99.0.1, fd99::1
 *   ns "wg":   wireguard-go, tunnel address 10.99.0.2, fd99::2
 *
 * Real traffic only: ping and iperf3 (TCP) through the tunnels, both directions.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Namespace, connect, netnsUnavailableReason } from '../netns/index.js';
import { Driver, ensureBuilt, startBlobServer, waitUntil, WireguardGo, wgKeyPair } from './harness.js';
import type { DriverConfig } from './driver-protocol.js';

const skip = netnsUnavailableReason();
if (skip) console.warn(`skipping WireGuard interop tests: ${skip}`);

interface Setup {
  ours: Namespace;
  theirs: Namespace;
  driver: Driver;
  wg: WireguardGo;
  ourPublicKey: string;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/**
 * Both sides up. `weInitiate`: only we know the other's endpoint (like a client); otherwise only wireguard-go does.
 * `underlay6` runs the outer UDP over IPv6.
 */
async function setup(
  options: { weInitiate: boolean; underlay6?: boolean } & Pick<DriverConfig, 'timers' | 'underLoadHandshakesPerSecond'>,
): Promise<Setup> {
  const ours = await Namespace.create('wg-ours');
  cleanups.push(() => ours.destroy());
  const theirs = await Namespace.create('wg-go');
  cleanups.push(() => theirs.destroy());
  await connect(ours, theirs, { a: ['10.88.0.1/24', 'fd88::1/64'], b: ['10.88.0.2/24', 'fd88::2/64'] });
  const us = await wgKeyPair();
  const them = await wgKeyPair();
  const ourHost = options.underlay6 ? 'fd88::1' : '10.88.0.1';
  const theirHost = options.underlay6 ? 'fd88::2' : '10.88.0.2';

  const wg = await WireguardGo.start(theirs, {
    privateKey: them.privateKey,
    listenPort: 51820,
    address: '10.99.0.2/24',
    peers: [],
  });
  cleanups.push(() => wg.stop());
  await theirs.exec('ip', ['addr', 'add', 'fd99::2/64', 'dev', wg.name, 'nodad']);

  const driver = await Driver.start(ours, {
    privateKey: us.privateKey,
    listen: { host: ourHost, port: 0 },
    peers: [
      {
        publicKey: them.publicKey,
        allowedIps: ['10.99.0.0/24', 'fd99::/64'],
        endpoint: options.weInitiate ? { host: theirHost, port: 51820 } : undefined,
      },
    ],
    tun: { name: `tn${Math.random().toString(16).slice(2, 8)}`, mtu: 1420, addresses: ['10.99.0.1/24', 'fd99::1/64'] },
    timers: options.timers,
    underLoadHandshakesPerSecond: options.underLoadHandshakesPerSecond,
  });
  cleanups.push(() => driver.stop());
  await wg.setPeer({
    publicKey: us.publicKey,
    allowedIps: ['10.99.0.1/32', 'fd99::1/128'],
    endpoint: options.weInitiate
      ? undefined
      : options.underlay6
        ? `[${ourHost}]:${driver.port}`
        : `${ourHost}:${driver.port}`,
  });
  return { ours, theirs, driver, wg, ourPublicKey: us.publicKey };
}

async function ping(
  from: Namespace,
  address: string,
  count: number,
  intervalS = 0.2,
): Promise<{ sent: number; received: number }> {
  const { stdout } = await from.exec('ping', ['-c', String(count), '-i', String(intervalS), '-W', '2', address], {
    allowFailure: true,
    timeoutMs: 60_000,
  });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) };
}

/** iperf3 over TCP for `seconds` (`-R`: the server sends); the receiver's bits/s. */
async function iperf(client: Namespace, server: Namespace, address: string, args: string[]): Promise<number> {
  const serverProcess = server.spawn('iperf3', 'iperf3', ['-s', '-1', '-B', address, '--forceflush']);
  cleanups.push(() => serverProcess.stop().then(() => undefined));
  await serverProcess.waitForOutput(/Server listening/, 5000);
  const { stdout } = await client.exec('iperf3', ['-c', address, '-J', ...args], { timeoutMs: 60_000 });
  const result = JSON.parse(stdout) as { end: { sum_received: { bytes: number; bits_per_second: number } } };
  expect(result.end.sum_received.bytes).toBeGreaterThan(0);
  return result.end.sum_received.bits_per_second;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/**
 * TCP integrity through the tunnel: `client` downloads a `megabytes` MB blob from an HTTP server in `server` and
 * uploads one of its own, both checked by SHA-256.
 */
async function httpTransfer(client: Namespace, server: Namespace, address: string, megabytes: number): Promise<void> {
  const blobServer = await startBlobServer(server, address, 8080, megabytes * 2 ** 20);
  cleanups.push(() => blobServer.stop().then(() => undefined));
  const dir = mkdtempSync(`${tmpdir()}/postern-wg-http-`);
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const base = `http://${address.includes(':') ? `[${address}]` : address}:8080`;
  const curl = (args: string[]) =>
    client.exec('curl', ['-sS', '--fail', '--max-time', '60', ...args], { timeoutMs: 70_000 });

  await curl(['-o', `${dir}/down`, `${base}/blob`]);
  const expected = (await curl([`${base}/blob.sha256`])).stdout;
  const downloaded = readFileSync(`${dir}/down`);
  expect(downloaded.length).toBe(megabytes * 2 ** 20);
  expect(sha256(downloaded)).toBe(expected);

  const upload = randomBytes(megabytes * 2 ** 20);
  writeFileSync(`${dir}/up`, upload);
  expect((await curl(['-T', `${dir}/up`, `${base}/upload`])).stdout).toBe(sha256(upload));
}

const countEvents = (driver: Driver, type: string) =>
  driver.events.filter((e) => e.event === 'wg' && e.type === type).length;

describe.skipIf(skip)('WireGuard interop with wireguard-go', () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 120_000);

  it('(a) we initiate: ping both families, 16 MB each way over HTTP (SHA-256 checked), iperf3 each way', async () => {
    const { ours, theirs, driver, wg, ourPublicKey } = await setup({ weInitiate: true });
    expect(await ping(ours, '10.99.0.2', 5)).toEqual({ sent: 5, received: 5 });
    expect(await ping(ours, 'fd99::2', 3)).toEqual({ sent: 3, received: 3 });
    const stats = await driver.stats();
    expect(stats.device.initiationsSent).toBe(1);
    expect(stats.device.responsesSent).toBe(0);

    await httpTransfer(ours, theirs, '10.99.0.2', 16);
    const upload = await iperf(ours, theirs, '10.99.0.2', ['-t', '2']);
    const download = await iperf(ours, theirs, '10.99.0.2', ['-t', '2', '-R']);
    console.log(
      `iperf3 TCP through the tunnel: upload ${(upload / 1e6).toFixed(0)} Mbit/s, download ${(download / 1e6).toFixed(0)} Mbit/s`,
    );
    const [peer] = await wg.peers();
    expect(peer!.publicKey).toBe(ourPublicKey);
    expect(peer!.latestHandshake).toBeGreaterThan(0);
    expect(peer!.rx).toBeGreaterThan(16 * 2 ** 20);
    expect(peer!.tx).toBeGreaterThan(16 * 2 ** 20);
  });

  it('(b) wireguard-go initiates (over an IPv6 underlay): ping and 8 MB each way over HTTP', async () => {
    const { ours, theirs, driver } = await setup({ weInitiate: false, underlay6: true });
    expect(await ping(theirs, '10.99.0.1', 5)).toEqual({ sent: 5, received: 5 });
    const stats = await driver.stats();
    expect(stats.device.responsesSent).toBe(1);
    expect(stats.device.initiationsSent).toBe(0);
    expect(driver.events.some((e) => e.event === 'wg' && e.type === 'endpoint_changed')).toBe(true);
    await httpTransfer(theirs, ours, 'fd99::1', 8);
  });

  it('(c) handshakes repeat across rekeys while traffic flows', async () => {
    // wireguard-go's timers are fixed (REKEY_AFTER_TIME 120 s), so our Device runs with REKEY_AFTER_TIME 2 s and
    // REKEY_TIMEOUT 1 s (initiations are never closer than REKEY_TIMEOUT) through its test-only timer
    // configuration: as the initiator of each session it starts a new handshake on the first send after 2 s,
    // wireguard-go answers, and both rotate sessions mid-stream while pings and a TCP transfer run.
    const { ours, theirs, driver, wg } = await setup({
      weInitiate: true,
      timers: { rekeyAfterTime: 2000, rekeyTimeout: 1000 },
    });
    // Pings alone (no competing load that could drop them): every one crosses, across two or more rekeys.
    const result = await ping(ours, '10.99.0.2', 100, 0.05);
    expect(result).toEqual({ sent: 100, received: 100 });
    const afterPings = countEvents(driver, 'handshake_completed');
    expect(afterPings).toBeGreaterThanOrEqual(3);
    // TCP at full speed across further rekeys, then a transfer checked end to end.
    await iperf(ours, theirs, '10.99.0.2', ['-t', '3']);
    await httpTransfer(ours, theirs, '10.99.0.2', 8);
    const handshakes = countEvents(driver, 'handshake_completed');
    expect(handshakes).toBeGreaterThan(afterPings);
    const stats = await driver.stats();
    // Nearly every initiation was answered: one may be in flight, one lost to the saturated path and retried.
    expect(stats.device.initiationsSent).toBeLessThanOrEqual(handshakes + 2);
    // Nothing dropped but the kernel's own IPv6 link-local chatter (router solicitations, MLD to ff02::), unrouted.
    const { no_route: _linkLocal, ...drops } = stats.device.drops as Record<string, number>;
    expect(drops).toEqual({});
    const [peer] = await wg.peers();
    expect(Date.now() / 1000 - peer!.latestHandshake).toBeLessThan(4);
    console.log(`rekeys: ${handshakes} handshakes; ping ${result.received}/${result.sent}`);
  });

  it('(d) roaming: our source port changes mid-stream and traffic continues', async () => {
    const { ours, driver, wg } = await setup({ weInitiate: true });
    expect(await ping(ours, '10.99.0.2', 2)).toEqual({ sent: 2, received: 2 });
    const before = driver.port;
    const pings = ping(ours, '10.99.0.2', 40, 0.1);
    await new Promise((r) => setTimeout(r, 1500));
    const since = driver.events.length;
    driver.command({ cmd: 'rebind' });
    const rebound = await driver.waitFor((e) => e.event === 'rebound', 5000, since);
    const after = rebound.event === 'rebound' ? rebound.port : -1;
    expect(after).not.toBe(before);
    const result = await pings;
    // Replies already on their way to the old port are lost with it; the rest arrives.
    expect(result.received).toBeGreaterThanOrEqual(result.sent - 2);
    await waitUntil(async () => (await wg.peers())[0]!.endpoint === `10.88.0.1:${after}`, 5000);
    expect(await ping(ours, '10.99.0.2', 3)).toEqual({ sent: 3, received: 3 });
  });

  it('(e) under load we demand a cookie: wireguard-go retries with MAC2 and gets through', async () => {
    const { theirs, driver } = await setup({ weInitiate: false, underLoadHandshakesPerSecond: 0 });
    // wireguard-go retries its initiation after REKEY_TIMEOUT (5 s), now with the cookie's MAC2.
    const result = await ping(theirs, '10.99.0.1', 10, 1);
    expect(result.received).toBeGreaterThan(0);
    const stats = await driver.stats();
    expect(stats.device.cookieRepliesSent).toBeGreaterThanOrEqual(1);
    expect((stats.device.drops as Record<string, number>).cookie_required).toBeGreaterThanOrEqual(1);
    expect(stats.device.responsesSent).toBeGreaterThanOrEqual(1);
    expect(countEvents(driver, 'handshake_completed')).toBeGreaterThanOrEqual(1);
  });
});
