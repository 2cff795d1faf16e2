import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusResult } from '../../protocol/helper-api.js';
import { type BackgroundProcess, Namespace, connect, netnsUnavailableReason, run } from '../netns/index.js';
import { CLI_MAIN, startHelper } from './helper-process.js';

const PORTAL = fileURLToPath(new URL('../../dist/e2e/helper/fixtures/scripted-portal.js', import.meta.url));
const skip = netnsUnavailableReason();
if (skip) console.warn(`skipping e2e/helper end-to-end tests: ${skip}`);

const ORIGINAL_RESOLV_CONF = '# the namespace resolver\nnameserver 10.77.0.53\noptions timeout:2\n';
const RESOURCES = [
  { id: 'r-nas', name: 'NAS', siteId: 's1', filters: [], type: 'dns', address: 'nas.corp.test', ipStack: 'dual' },
];

/**
 * The helper for real in a client namespace: real TUN, its own /etc/resolv.conf, dnsmasq as the upstream in another
 * namespace, a scripted portal beside it. Then SIGKILL and recovery by a fresh start.
 */
describe.skipIf(skip)('postern-helper in a namespace', () => {
  let client: Namespace;
  let upstream: Namespace;
  let dir: string;
  let socketPath: string;
  let helper: BackgroundProcess;
  let portalUrl: string;
  const processes: BackgroundProcess[] = [];

  const helperArgs = () => [
    '--socket',
    socketPath,
    '--state-dir',
    join(dir, 'state'),
    '--dns-mode',
    'resolv-conf',
    '--tun-name',
    'pt0',
  ];
  const cli = (...args: string[]) =>
    client.exec(process.execPath, [CLI_MAIN, '--socket', socketPath, ...args], { allowFailure: true });
  const dig = (server: string, name: string, type = 'A', ...options: string[]) =>
    client
      .exec('dig', ['+short', '+time=2', '+tries=1', ...options, `@${server}`, name, type])
      .then((r) => r.stdout.trim());
  const resolvConf = () => client.exec('cat', ['/etc/resolv.conf']).then((r) => r.stdout);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-e2e-helper-'));
    socketPath = join(dir, 'helper.sock');
    client = await Namespace.create('client');
    upstream = await Namespace.create('upstream');
    await connect(client, upstream, { a: ['10.77.0.2/24'], b: ['10.77.0.53/24', '10.77.0.54/24'] });
    client.writeEtc('resolv.conf', ORIGINAL_RESOLV_CONF);
    const dnsmasq = upstream.spawn('dnsmasq', 'dnsmasq', [
      '--keep-in-foreground',
      '--log-facility=-',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--listen-address=10.77.0.53,10.77.0.54',
      '--address=/www.example.test/192.0.2.10',
      '--log-queries',
    ]);
    processes.push(dnsmasq);
    await dnsmasq.waitForOutput(/started/);
    const portal = upstream.spawn('portal', process.execPath, [
      PORTAL,
      '10.77.0.53',
      'e2e-token',
      JSON.stringify(RESOURCES),
    ]);
    processes.push(portal);
    portalUrl = `http://10.77.0.53:${(await portal.waitForOutput(/portal listening on (\d+)/))[1]!}`;
    writeFileSync(join(dir, 'token'), 'e2e-token\n');

    helper = await startHelper(client, helperArgs());
    processes.push(helper);
    await connectCli();
  });
  afterAll(async () => {
    for (const p of processes) await p.stop();
    await client?.destroy();
    await upstream?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connectCli() {
    const connected = await cli('connect', '--portal', portalUrl, '--token-file', join(dir, 'token'));
    expect(connected, helper.text).toMatchObject({ code: 0, stdout: expect.stringContaining('connected') });
  }

  async function status() {
    return StatusResult.parse(JSON.parse((await cli('status', '--json')).stdout));
  }

  it('points resolv.conf at the sentinel and routes the ranges into the TUN', async () => {
    const { dns, routes } = await status();
    expect(dns?.upstreams).toEqual(['10.77.0.53']);
    const sentinel = dns!.sentinels[0]!;
    expect((await client.exec('cat', ['/etc/resolv.conf'])).stdout).toContain(`nameserver ${sentinel}`);
    expect(routes).toEqual(expect.arrayContaining(['100.96.0.0/11', 'fd00:2021:1111:8000::/107']));
    const table = (await client.exec('ip', ['route', 'show', 'table', '28783'])).stdout;
    expect(table).toContain('100.96.0.0/11 dev pt0');
    expect((await client.exec('ip', ['route', 'get', sentinel])).stdout).toContain('dev pt0');
  });

  it('answers a non-resource name from the real upstream and a resource name with a mapped IP', async () => {
    const sentinel = (await status()).dns!.sentinels[0]!;
    expect(await dig(sentinel, 'www.example.test')).toBe('192.0.2.10');
    const mapped = (await dig(sentinel, 'nas.corp.test')).split('\n');
    expect(mapped.length).toBeGreaterThan(0);
    for (const address of mapped) expect(address).toMatch(/^100\.(9[6-9]|1[01]\d|12[0-7])\.\d+\.\d+$/);
    const mappings = JSON.parse((await cli('mappings', '--json')).stdout) as { domain: string; ipv4: string[] }[];
    expect(mappings).toEqual([expect.objectContaining({ domain: 'nas.corp.test' })]);
    expect([...mappings[0]!.ipv4].sort()).toEqual([...mapped].sort());
  });

  it('answers over TCP too, and writes an access-log line per intercepted query', async () => {
    const sentinel = (await status()).dns!.sentinels[0]!;
    expect(await dig(sentinel, 'www.example.test', 'A', '+tcp')).toBe('192.0.2.10');
    expect((await dig(sentinel, 'nas.corp.test', 'A', '+tcp')).split('\n')[0]).toMatch(/^100\./);
    await helper.waitForOutput(/"access":"dns".*"name":"www\.example\.test"/);
  });

  it('takes over an external rewrite of resolv.conf: new upstream, ours again, and restores the new one', async () => {
    const rewritten = 'nameserver 10.77.0.54\n';
    client.writeEtc('resolv.conf', rewritten); // what NetworkManager or dhclient would do
    await expect.poll(async () => (await status()).dns?.upstreams, { timeout: 10_000 }).toEqual(['10.77.0.54']);
    const sentinel = (await status()).dns!.sentinels[0]!;
    await expect.poll(resolvConf, { timeout: 10_000 }).toContain(`nameserver ${sentinel}`);
    expect(await dig(sentinel, 'www.example.test')).toBe('192.0.2.10');

    expect(await cli('disconnect')).toMatchObject({ code: 0 });
    expect(await resolvConf()).toBe(rewritten);
    expect((await client.exec('ip', ['rule'])).stdout).not.toContain('28783');
    client.writeEtc('resolv.conf', ORIGINAL_RESOLV_CONF);
    await connectCli();
  });

  it('after SIGKILL, a fresh start restores resolv.conf byte for byte and removes its routes', async () => {
    await helper.kill();
    expect(await resolvConf()).not.toBe(ORIGINAL_RESOLV_CONF);
    helper = await startHelper(client, helperArgs());
    processes.push(helper);
    expect(await resolvConf()).toBe(ORIGINAL_RESOLV_CONF);
    expect((await client.exec('ip', ['route', 'show', 'table', '28783'])).stdout).toBe('');
    expect((await client.exec('ip', ['rule'])).stdout).not.toContain('28783');
    expect(
      (await run('ip', ['netns', 'exec', client.name, 'ip', 'link', 'show', 'pt0'], { allowFailure: true })).code,
    ).not.toBe(0);
  });

  it('restores DNS and routes on SIGTERM', async () => {
    await connectCli();
    expect(await resolvConf()).not.toBe(ORIGINAL_RESOLV_CONF);
    expect(await helper.stop()).toBe(0);
    expect(await resolvConf()).toBe(ORIGINAL_RESOLV_CONF);
    expect((await client.exec('ip', ['rule'])).stdout).not.toContain('28783');
    expect(helper.text).toContain('stopping: restoring DNS and routes');
  });
});
