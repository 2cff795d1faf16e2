import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusResult } from '../../protocol/helper-api.js';
import { type BackgroundProcess, Namespace, connect, netnsUnavailableReason } from '../netns/index.js';
import { CLI_MAIN, startHelper } from './helper-process.js';

const PORTAL = fileURLToPath(new URL('../../dist/e2e/helper/fixtures/scripted-portal.js', import.meta.url));
const skip = netnsUnavailableReason();
if (skip) console.warn(`skipping e2e/helper IPv6-disabled tests: ${skip}`);

// An IPv6 upstream the host lists but cannot reach: the helper must not point the host at its IPv6 sentinel.
const ORIGINAL_RESOLV_CONF = 'nameserver 10.78.0.53\nnameserver fd00:78::53\n';
const RESOURCES = [
  { id: 'r-nas', name: 'NAS', siteId: 's1', filters: [], type: 'dns', address: 'nas.corp.test', ipStack: 'dual' },
];

/** A laptop with IPv6 turned off (`disable_ipv6`): the helper comes up IPv4-only instead of failing. */
describe.skipIf(skip)('postern-helper on a host with IPv6 disabled', () => {
  let client: Namespace;
  let upstream: Namespace;
  let dir: string;
  let socketPath: string;
  const processes: BackgroundProcess[] = [];

  const cli = (...args: string[]) =>
    client.exec(process.execPath, [CLI_MAIN, '--socket', socketPath, ...args], { allowFailure: true });
  const resolvConf = () => client.exec('cat', ['/etc/resolv.conf']).then((r) => r.stdout);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-e2e-v6off-'));
    socketPath = join(dir, 'helper.sock');
    client = await Namespace.create('v6off');
    upstream = await Namespace.create('v6up');
    // `default` covers the TUN the helper creates later; `all` the devices already there.
    await client.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    await connect(client, upstream, { a: ['10.78.0.2/24'], b: ['10.78.0.53/24'] });
    client.writeEtc('resolv.conf', ORIGINAL_RESOLV_CONF);
    const dnsmasq = upstream.spawn('dnsmasq', 'dnsmasq', [
      '--keep-in-foreground',
      '--log-facility=-',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--listen-address=10.78.0.53',
      '--address=/www.example.test/192.0.2.10',
    ]);
    processes.push(dnsmasq);
    await dnsmasq.waitForOutput(/started/);
    const portal = upstream.spawn('portal', process.execPath, [
      PORTAL,
      '10.78.0.53',
      'e2e-token',
      JSON.stringify(RESOURCES),
    ]);
    processes.push(portal);
    const portalUrl = `http://10.78.0.53:${(await portal.waitForOutput(/portal listening on (\d+)/))[1]!}`;
    writeFileSync(join(dir, 'token'), 'e2e-token\n');
    const helper = await startHelper(client, [
      '--socket',
      socketPath,
      '--state-dir',
      join(dir, 'state'),
      '--dns-mode',
      'resolv-conf',
      '--tun-name',
      'pt6off',
    ]);
    processes.push(helper);
    const connected = await cli('connect', '--portal', portalUrl, '--token-file', join(dir, 'token'));
    expect(connected, helper.text).toMatchObject({ code: 0, stdout: expect.stringContaining('connected') });
    expect(helper.text).toContain('IPv6 is disabled on this host');
  });
  afterAll(async () => {
    for (const p of processes) await p.stop();
    await client?.destroy();
    await upstream?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes and resolves over IPv4 only, and restores DNS on disconnect', async () => {
    const { dns, routes } = StatusResult.parse(JSON.parse((await cli('status', '--json')).stdout));
    expect(routes).toContain('100.96.0.0/11');
    expect(routes.filter((r) => r.includes(':'))).toEqual([]);
    expect((await client.exec('ip', ['-6', 'route', 'show', 'table', 'all'])).stdout).not.toContain('pt6off');
    const v4Sentinels = dns!.sentinels.filter((s) => !s.includes(':'));
    expect(dns!.sentinels.length).toBeGreaterThan(v4Sentinels.length); // the IPv6 upstream got one too
    expect(await resolvConf()).toMatch(new RegExp(`nameserver ${v4Sentinels[0]!.replace(/\./g, '\\.')}`));
    expect(await resolvConf()).not.toMatch(/nameserver .*:/);

    const dig = (name: string) =>
      client.exec('dig', ['+short', '+time=2', '+tries=1', name, 'A']).then((r) => r.stdout.trim().split('\n'));
    expect(await dig('www.example.test')).toEqual(['192.0.2.10']);
    for (const address of await dig('nas.corp.test')) expect(address).toMatch(/^100\.(9[6-9]|1[01]\d|12[0-7])\./);

    expect(await cli('disconnect')).toMatchObject({ code: 0 });
    expect(await resolvConf()).toBe(ORIGINAL_RESOLV_CONF);
    expect((await client.exec('ip', ['rule'])).stdout).not.toContain('28783');
  });
});
