import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Mapping, StatusResult } from '../../protocol/helper-api.js';
import { cidr, cidrContains, parseIp } from '../../protocol/ip.js';
import type { BackgroundProcess } from '../netns/index.js';
import { DnsCapture, type CapturedQuery } from './dns-capture.js';
import { DEMO_USER, NAMES, PLAN } from './plan.js';
import { curl, dig, type HttpResult } from './probes.js';
import { BIN, SystemTopology, nft, topologyUnavailableReason, waitFor } from './topology.js';

/**
 * Issue 8's "done when": the product's main job end to end, each claim one test, against the real processes of the
 * system topology (`postern-helper` + `postern` CLI, `postern-gateway`, `postern-portal`, dnsmasq, HTTP servers) over
 * veth links between network namespaces. Applications are `curl`, `dig` and a small Node poller; observers outside
 * every Postern process (tcpdump/tshark captures, the servers' view of the caller, the kernel's routes) decide.
 */

const skip = topologyUnavailableReason(['portal', 'gateway', 'helper', 'postern']);
if (skip) console.warn(`skipping the system tests (e2e/system): ${skip}`);

const MAPPED_V4 = cidr('100.96.0.0/11');
const MAPPED_V6 = cidr('fd00:2021:1111:8000::/107');
const inRange = (range: typeof MAPPED_V4, text: string) => {
  const parsed = parseIp(text);
  return parsed.ok && cidrContains(range, parsed.value);
};
const GATEWAY_CORP_ADDRESSES = [PLAN.gateway.corp, PLAN.gateway.corp6];
/** Resource names every test leaves granted (wiki is removed for a while by test 10; secret is never granted). */
const ALWAYS_GRANTED = [NAMES.nas, NAMES.v6only, NAMES.roundRobin, NAMES.empty, NAMES.saas];
const isAlwaysGranted = (name: string) =>
  ALWAYS_GRANTED.includes(name as (typeof ALWAYS_GRANTED)[number]) ||
  name === NAMES.appsZone ||
  name.endsWith(`.${NAMES.appsZone}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip)('Postern end to end in network namespaces (issue 8)', () => {
  let t: SystemTopology;
  /** Every DNS query reaching the internet namespace, from sign-in to the last test (test 12). */
  let upstreamCapture: DnsCapture;
  /** The client's routing before any helper ran (test 11). */
  let routingBefore: string;

  beforeAll(async () => {
    t = await SystemTopology.create();
    routingBefore = await clientRouting();
    await t.startGateway();
    await t.startHelper();
    await t.signIn();
    upstreamCapture = await DnsCapture.start(t.hosts.internet, 'any', join(t.dir, 'internet-dns.pcap'));
  }, 180_000);

  afterAll(async () => {
    await t?.destroy();
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    console.log(
      `--- system topology logs (${ctx.task.name}; all of them in ${t.keepLogs()}) ---\n${t.processes.dump()}`,
    );
  });

  async function mappings(): Promise<Mapping[]> {
    return z.array(Mapping).parse(JSON.parse(await t.postern(['mappings', '--json'])));
  }

  async function mapping(domain: string): Promise<Mapping | undefined> {
    return (await mappings()).find((m) => m.domain === domain);
  }

  /** `ip rule` and every routing table of the client, both families. */
  async function clientRouting(): Promise<string> {
    const parts = await Promise.all([
      t.client.exec('ip', ['-4', 'rule', 'list']),
      t.client.exec('ip', ['-6', 'rule', 'list']),
      t.client.exec('ip', ['-4', 'route', 'show', 'table', 'all']),
      t.client.exec('ip', ['-6', 'route', 'show', 'table', 'all']),
      t.client.exec('ip', ['-o', 'link', 'show']),
    ]);
    return parts.map((p) => p.stdout).join('\n--\n');
  }

  /** Assigned-IPs requests the gateway logged for a domain (`… -> [id] domain`), over all its runs. */
  function assignedIpsAtGateway(domain: string): number {
    const pattern = new RegExp(`^\\S+ -> \\[\\d+\\] ${domain.replace(/\./g, '\\.')}$`, 'gm');
    return t.processes.history('gateway').match(pattern)?.length ?? 0;
  }

  async function tunPackets(): Promise<{ rx: number; tx: number }> {
    const { stdout } = await t.client.exec('cat', [
      `/sys/class/net/${PLAN.client.tun}/statistics/rx_packets`,
      `/sys/class/net/${PLAN.client.tun}/statistics/tx_packets`,
    ]);
    const [rx, tx] = stdout.trim().split('\n').map(Number);
    return { rx: rx!, tx: tx! };
  }

  it('1. a resource name resolves to mapped IPs, and curl gets the corp body from the gateway’s address', async () => {
    const a = await dig(t.client, NAMES.nas, 'A');
    expect(a.rcode).toBe('NOERROR');
    expect(a.addresses.length).toBeGreaterThan(0);
    for (const address of a.addresses) expect(inRange(MAPPED_V4, address), address).toBe(true);
    const aaaa = await dig(t.client, NAMES.nas, 'AAAA');
    for (const address of aaaa.addresses) expect(inRange(MAPPED_V6, address), address).toBe(true);

    const body = await curl(t.client, `http://${NAMES.nas}/`);
    expect(body).toMatchObject({ status: 200, reply: { server: 'nas', host: NAMES.nas } });
    expect(GATEWAY_CORP_ADDRESSES).toContain(body.reply?.client);
    for (const family of [4, 6] as const) {
      const viaFamily = await curl(t.client, `http://${NAMES.nas}/`, { family });
      expect(viaFamily, `curl -${family}`).toMatchObject({
        status: 200,
        reply: { server: 'nas', client: PLAN.gateway.corp },
      });
    }
  });

  it('2. a non-resource name resolves through the public upstream to its real address, outside the tunnel', async () => {
    const answer = await dig(t.client, NAMES.www, 'A');
    expect(answer).toEqual({ rcode: 'NOERROR', addresses: [PLAN.internet.www] });
    const upstream = await upstreamCapture.queries();
    expect(upstream).toContainEqual({
      source: PLAN.client.address,
      destination: PLAN.internet.dns,
      name: NAMES.www,
      type: 'A',
    });

    const route = await t.client.exec('ip', ['route', 'get', PLAN.internet.www]);
    expect(route.stdout).toContain(`dev ${t.links.clientUplink}`);
    const before = await tunPackets();
    const body = await curl(t.client, `http://${NAMES.www}/`, { resolve: `${NAMES.www}:80:${PLAN.internet.www}` });
    expect(body).toMatchObject({ status: 200, reply: { server: 'www', client: PLAN.client.address } });
    expect(await tunPackets()).toEqual(before);
    expect(t.processes.history('gateway')).not.toContain(PLAN.internet.www);
  });

  it('3. wildcard: x.apps and a.b.apps work; a resource no policy grants is not intercepted', async () => {
    for (const name of [`x.${NAMES.appsZone}`, `a.b.${NAMES.appsZone}`]) {
      const answer = await dig(t.client, name, 'A');
      expect(answer.addresses.every((a) => inRange(MAPPED_V4, a)) && answer.addresses.length > 0, name).toBe(true);
      const body = await curl(t.client, `http://${name}/`);
      expect(body, name).toMatchObject({ status: 200, reply: { server: 'apps', host: name } });
      expect(GATEWAY_CORP_ADDRESSES).toContain(body.reply?.client);
    }
    // secret.corp.test is a resource, but not granted: the public DNS answers (it does not know the name).
    expect(await dig(t.client, NAMES.secret, 'A')).toEqual({ rcode: 'NXDOMAIN', addresses: [] });
    expect(await mapping(NAMES.secret)).toBeUndefined();
    expect(await upstreamCapture.queries()).toContainEqual(
      expect.objectContaining({ source: PLAN.client.address, name: NAMES.secret }),
    );
  });

  it('4. seed 000: the SaaS name goes through the gateway, the other name on its IP goes direct', async () => {
    const saas = await dig(t.client, NAMES.saas, 'A');
    expect(saas.addresses.length).toBeGreaterThan(0);
    expect(saas.addresses.every((a) => inRange(MAPPED_V4, a))).toBe(true);
    expect(await curl(t.client, `http://${NAMES.saas}/`)).toMatchObject({
      status: 200,
      reply: { server: 'saas', client: PLAN.gateway.address, host: NAMES.saas },
    });
    // Same real IP, not a resource: resolved publicly, sent directly, refused by the allowlist.
    expect(await dig(t.client, NAMES.saasSibling, 'A')).toEqual({ rcode: 'NOERROR', addresses: [PLAN.internet.saas] });
    expect(await curl(t.client, `http://${NAMES.saasSibling}/`)).toMatchObject({
      status: 403,
      reply: { server: 'saas', client: PLAN.client.address, host: NAMES.saasSibling },
    });
  });

  it('5. round robin: the three-record name gets distinct mapped IPs that reach distinct servers', async () => {
    const answer = await dig(t.client, NAMES.roundRobin, 'A');
    expect(new Set(answer.addresses).size).toBeGreaterThanOrEqual(3);
    const servers = new Map<string, string>();
    for (const address of answer.addresses) {
      const body = await curl(t.client, `http://${NAMES.roundRobin}/`, {
        resolve: `${NAMES.roundRobin}:80:${address}`,
      });
      expect(body, address).toMatchObject({ status: 200 });
      servers.set(address, body.reply!.server);
    }
    expect(new Set(servers.values())).toEqual(new Set(['rr1', 'rr2', 'rr3']));
    // Each of the first three mapped IPs is its own server.
    expect(new Set(answer.addresses.slice(0, 3).map((a) => servers.get(a))).size).toBe(3);
  });

  it('6. seed 001 NAT64: the IPv6-only name is reached with curl -4', async () => {
    const a = await dig(t.client, NAMES.v6only, 'A');
    expect(a.addresses.length).toBeGreaterThan(0);
    expect(a.addresses.every((x) => inRange(MAPPED_V4, x))).toBe(true);
    expect(await curl(t.client, `http://${NAMES.v6only}/`, { family: 4 })).toMatchObject({
      status: 200,
      reply: { server: 'v6only', client: PLAN.gateway.corp6 },
    });
  });

  it('8. seed 003: a name without records ends Failed, is not retried by 50 other queries, and a new query recreates it', async () => {
    const answer = await dig(t.client, NAMES.empty, 'A');
    expect(answer.addresses.length).toBeGreaterThan(0);
    // The first packet opens the tunnel and sends assigned_ips; the gateway finds no records and answers Inactive.
    await curl(t.client, `http://${NAMES.empty}/`, { maxTimeSeconds: 2 });
    await waitFor(
      'empty.corp.test to end Failed',
      10_000,
      async () => (await mapping(NAMES.empty))?.natState === 'failed',
    );
    const sent = assignedIpsAtGateway(NAMES.empty);
    expect(sent).toBeGreaterThanOrEqual(1);

    for (let i = 0; i < 25; i++) {
      await dig(t.client, NAMES.nas, 'A');
      await dig(t.client, NAMES.www, 'A');
    }
    await sleep(3000); // longer than the 2 s re-send interval
    expect(assignedIpsAtGateway(NAMES.empty)).toBe(sent);
    expect((await mapping(NAMES.empty))?.natState).toBe('failed');

    await dig(t.client, NAMES.empty, 'A');
    await waitFor('a new assigned_ips for empty.corp.test', 5000, () => assignedIpsAtGateway(NAMES.empty) > sent);
  });

  it('9. 30 % packet loss between client and gateway: 20 new domains all become reachable within 15 s each', async () => {
    // This kernel has no netem (CONFIG_NET_SCH_NETEM unset); nftables drops 30 % of the packets either way instead.
    await nft(
      t.client,
      `table inet postern_test_loss {
  chain output {
    type filter hook output priority filter; policy accept;
    ip daddr ${PLAN.gateway.address} numgen random mod 100 < 30 counter drop
  }
  chain input {
    type filter hook input priority filter; policy accept;
    ip saddr ${PLAN.gateway.address} numgen random mod 100 < 30 counter drop
  }
}`,
    );
    try {
      const names = Array.from({ length: 20 }, (_, i) => `lossy${i}.${NAMES.appsZone}`);
      const before = await clientStats();
      const outcomes = await Promise.all(names.map((name) => reachWithin(name, 15_000)));
      const after = await clientStats();
      const counters = ['packetsToGateways', 'packetsFromGateways', 'dnsQueries', 'authorizationRequests'];
      const report = `${JSON.stringify(outcomes)}\nclient counters during the test: ${counters
        .map((c) => `${c} +${(after[c] ?? 0) - (before[c] ?? 0)}`)
        .join(', ')}`;
      for (const outcome of outcomes) expect(outcome.ok, report).toBe(true);
      const { stdout } = await t.client.exec('nft', ['list', 'table', 'inet', 'postern_test_loss']);
      const dropped = [...stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
      expect(
        dropped.reduce((a, b) => a + b, 0),
        `the loss rules dropped nothing:\n${stdout}`,
      ).toBeGreaterThan(0);
    } finally {
      await t.client.exec('nft', ['delete', 'table', 'inet', 'postern_test_loss'], { allowFailure: true });
    }
  }, 60_000);

  async function clientStats(): Promise<Record<string, number>> {
    return StatusResult.parse(JSON.parse(await t.postern(['status', '--json']))).stats;
  }

  /**
   * Starts a `curl` (3 s at most) every 1.5 s until one gets the apps server's answer or the time is up, like an
   * impatient application opening new connections. Overlapping attempts keep the kernel's own SYN back-off (1 s,
   * 2 s, 4 s…) under 30 % loss from deciding the outcome: what is measured is whether Postern makes the new domain
   * reachable (authorization, assigned_ips and its re-sends over the lossy tunnel) within the time.
   */
  async function reachWithin(
    name: string,
    ms: number,
  ): Promise<{ name: string; ok: boolean; ms: number; last?: HttpResult }> {
    const started = Date.now();
    let last: HttpResult | undefined;
    let reachedAt: number | undefined;
    const attempts: Promise<void>[] = [];
    while (reachedAt === undefined && Date.now() - started < ms - 1000) {
      const maxTimeSeconds = Math.min(3, Math.max(1, Math.floor((ms - (Date.now() - started)) / 1000)));
      attempts.push(
        curl(t.client, `http://${name}/`, { maxTimeSeconds }).then((result) => {
          last = result;
          if (result.status === 200 && result.reply?.server === 'apps') reachedAt ??= Date.now();
        }),
      );
      for (const end = Date.now() + 1500; reachedAt === undefined && Date.now() < end;) await sleep(50);
    }
    await Promise.all(attempts);
    const ok = reachedAt !== undefined && reachedAt - started <= ms;
    return { name, ok, ms: (reachedAt ?? Date.now()) - started, ...(!ok && last ? { last } : {}) };
  }

  it('10. removing the policy in the portal cuts the resource within 5 s and stops interception; adding it back restores it', async () => {
    const before = await dig(t.client, NAMES.wiki, 'A');
    expect(before.addresses.length).toBeGreaterThan(0);
    const pinned = before.addresses[0]!;
    const viaPinned = () =>
      curl(t.client, `http://${NAMES.wiki}/`, { resolve: `${NAMES.wiki}:80:${pinned}`, maxTimeSeconds: 1 });
    expect(await viaPinned()).toMatchObject({ status: 200, reply: { server: 'wiki' } });

    const policy = (await t.admin.policies()).find(
      (p) => p.resource.name === 'wiki' && p.group.name === DEMO_USER.group,
    );
    expect(policy).toBeDefined();
    const removedAt = Date.now();
    await t.admin.deletePolicy(policy!.id);
    await waitFor('wiki to become unreachable and not intercepted', 5000, async () => {
      const [http, answer] = await Promise.all([viaPinned(), dig(t.client, NAMES.wiki, 'A')]);
      return http.status !== 200 && answer.rcode === 'NXDOMAIN';
    });
    const cutAfter = Date.now() - removedAt;
    expect(cutAfter).toBeLessThanOrEqual(5000);

    await t.admin.addPolicy({ group: DEMO_USER.group, resource: 'wiki' });
    await waitFor('wiki to be intercepted and reachable again', 10_000, async () => {
      const answer = await dig(t.client, NAMES.wiki, 'A');
      if (!answer.addresses.some((a) => inRange(MAPPED_V4, a))) return false;
      const http = await curl(t.client, `http://${NAMES.wiki}/`, { maxTimeSeconds: 2 });
      return http.status === 200 && http.reply?.server === 'wiki';
    });
  });

  // Test 7 runs after 10: a gateway restart may leave authorizations behind that later tests would trip over;
  // test 11 starts the client afresh.
  it('7. seed 001 NAT reset: traffic every 200 ms survives repeated tunnel breaks for 60 s without a DNS query', async () => {
    const DURATION_MS = 60_000;
    const BREAK_EVERY_MS = 10_000;
    const poller = t.processes.start(t.client, 'poller', process.execPath, [
      BIN.httpPoller,
      NAMES.nas,
      '200',
      String(DURATION_MS),
      '1500',
    ]);
    await poller.waitForOutput(/"resolved"/, 10_000);
    // From here on, every DNS query to the stub crosses the TUN: the capture sees each one.
    const stubCapture = await DnsCapture.start(t.client, PLAN.client.tun, join(t.dir, 'stub-dns.pcap'));
    const breaks: { at: number; kind: string }[] = [];
    const started = Date.now();
    for (let n = 0; Date.now() - started < DURATION_MS - BREAK_EVERY_MS; n++) {
      await sleep(BREAK_EVERY_MS - ((Date.now() - started) % BREAK_EVERY_MS));
      const kind = n % 2 === 0 ? 'source port rebind' : 'gateway restart';
      breaks.push({ at: Date.now() - started, kind });
      if (kind === 'gateway restart') {
        await t.stopGateway();
        await t.startGateway();
      } else await rebindClientPort(40_000 + n);
    }
    await poller.waitForOutput(/"done":true/, DURATION_MS + 15_000);
    await t.processes.stop('poller');
    await t.client.exec('nft', ['delete', 'table', 'ip', 'postern_test_rebind'], { allowFailure: true });
    const stubQueries = await stubCapture.stop();

    const results = pollerResults(poller);
    const failures = results.filter((r) => !r.ok);
    const perBreak = breaks.map((b, i) => {
      const next = breaks[i + 1]?.at ?? Infinity;
      return `${b.kind} at ${b.at} ms: ${failures.filter((r) => r.at >= b.at && r.at < next).length}`;
    });
    const report =
      `breaks ${JSON.stringify(breaks)}\n${results.length} requests, failed: ${failureRuns(results)}\n` +
      `failed requests per break: ${perBreak.join('; ')}`;
    // Printed on success too: how close each break came to the bound is worth watching on a loaded machine.
    console.log(`test 7: ${report}`);
    expect(results.length, report).toBeGreaterThan(250);
    // No new query for the name reached the stub: the application never resolved again, and needed not.
    expect(
      stubQueries.filter((q) => q.name === NAMES.nas),
      report,
    ).toEqual([]);
    // It recovered after every break: a success after each, before the next (or the end).
    for (const [i, b] of breaks.entries()) {
      const next = breaks[i + 1]?.at ?? DURATION_MS;
      expect(
        results.some((r) => r.ok && r.at > b.at && r.at < next),
        `recovery after ${b.kind} at ${b.at} ms\n${report}`,
      ).toBe(true);
    }
    expect(
      results.slice(-10).every((r) => r.ok),
      report,
    ).toBe(true);
    // Bounded: at most 25 failed requests (5 s of traffic) per break.
    expect(failures.length, report).toBeLessThanOrEqual(25 * breaks.length);
  }, 150_000);

  /** A NAT in front of the client forgets its mapping and picks a new source port (nftables SNAT + conntrack). */
  async function rebindClientPort(port: number): Promise<void> {
    await t.client.exec('nft', ['delete', 'table', 'ip', 'postern_test_rebind'], { allowFailure: true });
    await nft(
      t.client,
      `table ip postern_test_rebind {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip daddr ${PLAN.gateway.address} udp dport ${PLAN.gateway.port} snat to ${PLAN.client.address}:${port}
  }
}`,
    );
    await t.client.exec(
      'conntrack',
      ['-D', '-p', 'udp', '--orig-dst', PLAN.gateway.address, '--orig-port-dst', String(PLAN.gateway.port)],
      {
        allowFailure: true,
      },
    );
  }

  it('11. crash safety: after kill -9 of the helper, a restart restores resolv.conf byte for byte and removes every route', async () => {
    const resolvConf = t.client.etcPath('resolv.conf');
    expect(readFileSync(resolvConf, 'utf8')).not.toBe(t.clientResolvConf);
    expect(await clientRouting()).not.toBe(routingBefore);

    await t.killHelper();
    // Nothing undid the helper's changes: the restart below has to.
    expect(readFileSync(resolvConf, 'utf8')).not.toBe(t.clientResolvConf);

    await t.startHelper();
    await waitFor(
      'the restarted helper to restore resolv.conf',
      10_000,
      () => readFileSync(resolvConf, 'utf8') === t.clientResolvConf,
    );
    expect(readFileSync(resolvConf)).toEqual(Buffer.from(t.clientResolvConf));
    expect(await clientRouting()).toBe(routingBefore);

    // Connected again for what follows.
    await t.signIn();
    expect((await curl(t.client, `http://${NAMES.nas}/`)).reply?.server).toBe('nas');
  });

  it('12. DNS leaks: while connected, no query for a resource name ever reached the public upstream', async () => {
    for (const name of [...ALWAYS_GRANTED, `leak.${NAMES.appsZone}`]) {
      for (const type of ['A', 'AAAA'] as const) await dig(t.client, name, type);
    }
    await curl(t.client, `http://${NAMES.nas}/`);
    await dig(t.client, NAMES.www, 'A');
    const queries = await upstreamCapture.stop();
    const fromClient = queries.filter((q) => q.source === PLAN.client.address);
    // The capture works and has seen the whole suite: the client's public queries are all there.
    expect(fromClient.some((q) => q.name === NAMES.www)).toBe(true);
    expect(fromClient.some((q) => q.name === NAMES.saasSibling)).toBe(true);
    const leaks: CapturedQuery[] = fromClient.filter((q) => isAlwaysGranted(q.name));
    expect(leaks).toEqual([]);
  });
});

interface PollResult {
  at: number;
  ok: boolean;
  server?: string;
  error?: string;
}

/** Failed requests as runs, e.g. `20.1–39.9 s (100× timeout)`. */
function failureRuns(results: PollResult[]): string {
  const runs: { from: number; to: number; count: number; error: string }[] = [];
  let current: (typeof runs)[number] | undefined;
  for (const r of results) {
    if (r.ok) {
      current = undefined;
      continue;
    }
    if (!current) runs.push((current = { from: r.at, to: r.at, count: 0, error: r.error ?? '' }));
    current.to = r.at;
    current.count++;
  }
  const s = (ms: number) => (ms / 1000).toFixed(1);
  return runs.map((r) => `${s(r.from)}–${s(r.to)} s (${r.count}× ${r.error})`).join(', ') || 'none';
}

function pollerResults(poller: BackgroundProcess): PollResult[] {
  const Line = z.object({
    at: z.number(),
    ok: z.boolean(),
    server: z.string().optional(),
    error: z.string().optional(),
  });
  return poller.text
    .split('\n')
    .filter((line) => line.startsWith('{"at"'))
    .map((line) => Line.parse(JSON.parse(line)));
}
