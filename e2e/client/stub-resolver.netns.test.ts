import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TunDevice } from '../../native/index.js';
import { ip } from '../../protocol/ip.js';
import { buildResponse, parseQuery, Rcode } from '../../tunnel/dns/index.js';
import { ClientState, type UpstreamQuery, type UpstreamResult } from '../../tunnel/client/index.js';
import { answerEverything, CLIENT_TUNNEL, CORP_RESOURCE, UPSTREAM_ANSWER } from '../../tunnel/client/testing.js';
import { generatePrivateKey, systemRng } from '../../tunnel/wireguard/index.js';
import { installed } from '../dns/tools.js';
import { Namespace, netnsUnavailableReason, run } from '../netns/index.js';

/**
 * The client's stub resolver against real resolvers: `ClientState` is driven in this process (as the helper will
 * drive it) behind a real TUN device in a test namespace, whose resolv.conf points at the sentinel. `dig` over UDP
 * and TCP (one and several queries per connection) and glibc (`getent`, including its TCP retry after a truncated
 * UDP answer) must get the mapped IPs of a granted resource and the upstream's answers for other names; the TCP
 * connections must end cleanly.
 */

const skip =
  netnsUnavailableReason() ??
  (installed('dig', ['-v']) ? undefined : 'dig is not installed (run scripts/setup-system)');
if (skip) console.warn(`skipping e2e/client stub resolver tests: ${skip}`);

const SENTINEL = '100.100.111.1';
const MAPPED = [1, 2, 3, 4].map((n) => `100.96.0.${n + 3}`);
/** Names under big.example.test get 100 A records from the upstream: more than fits a UDP answer. */
const MANY = Array.from({ length: 100 }, (_, n) => ip(`198.18.0.${n + 1}`));

function upstream(query: UpstreamQuery): UpstreamResult {
  const parsed = parseQuery(query.payload);
  if (parsed.ok && parsed.value.question.name.endsWith('big.example.test')) {
    const records = MANY.map((address) => ({ kind: 'address' as const, address, ttl: 60 }));
    return buildResponse(parsed.value, Rcode.NOERROR, records, { transport: query.transport });
  }
  return answerEverything(query);
}

describe.skipIf(skip)('ClientState stub resolver through a real TUN', () => {
  let ns: Namespace;
  let tun: TunDevice;
  let client: ClientState;
  let timer: NodeJS.Timeout | undefined;
  const now = () => performance.timeOrigin + performance.now();

  function flush(): void {
    const packets: Uint8Array[] = [];
    for (let p = client.pollTunPacket(); p; p = client.pollTunPacket()) packets.push(p);
    if (packets.length > 0) tun.write(packets);
    for (let q = client.pollUpstreamQuery(); q; q = client.pollUpstreamQuery()) {
      const query = q;
      // Answered asynchronously, as a socket would.
      setImmediate(() => {
        client.handleUpstreamResponse(query.ref, upstream(query), now());
        flush();
      });
    }
    while (client.pollEvent());
    clearTimeout(timer);
    const at = client.pollTimeout();
    if (at !== undefined) {
      timer = setTimeout(
        () => {
          client.handleTimeout(now());
          flush();
        },
        Math.max(0, at - now()),
      );
      timer.unref();
    }
  }

  beforeAll(async () => {
    ns = await Namespace.create('cdns');
    tun = TunDevice.open({ name: `pc${randomBytes(4).toString('hex')}`, mtu: 1280 });
    await run('ip', ['link', 'set', tun.name, 'netns', ns.name]);
    await ns.exec('ip', ['addr', 'add', `${CLIENT_TUNNEL.ipv4}/32`, 'dev', tun.name]);
    await ns.exec('ip', ['link', 'set', tun.name, 'up']);
    for (const route of ['100.100.111.0/24', '100.96.0.0/11']) {
      await ns.exec('ip', ['route', 'add', route, 'dev', tun.name, 'src', CLIENT_TUNNEL.ipv4]);
    }
    ns.writeEtc('resolv.conf', `nameserver ${SENTINEL}\noptions timeout:2 attempts:1\n`);

    client = new ClientState({ privateKey: generatePrivateKey(systemRng()), rng: systemRng() });
    client.setHostResolvers(['192.0.2.53']);
    client.handlePortalMessage(
      {
        type: 'init',
        device: { id: 'device-1', tunnel: CLIENT_TUNNEL },
        account: { id: 'account-1', email: 'user@corp.test' },
        resources: [CORP_RESOURCE],
        upstreamResolvers: [],
        blockRules: [],
      },
      now(),
    );
    expect(client.sentinels()).toEqual([{ sentinel: SENTINEL, upstream: '192.0.2.53' }]);
    tun.onPackets((batch) => {
      for (const packet of batch) client.handleTunPacket(packet, now());
      flush();
    });
    tun.onError((error) => console.error(`TUN ${tun.name}: ${error.message}`));
    flush();
  });

  afterAll(async () => {
    clearTimeout(timer);
    tun?.close();
    await ns?.destroy();
  });

  const dig = async (...args: string[]) =>
    (await ns.exec('dig', ['+short', '+tries=1', '+time=3', `@${SENTINEL}`, ...args])).stdout.trim().split('\n');

  it('dig over UDP gets the mapped IPs of a resource and the upstream answer for other names', async () => {
    expect(await dig('app.corp.test', 'A')).toEqual(MAPPED);
    expect(await dig('www.example.test', 'A')).toEqual([UPSTREAM_ANSWER]);
    expect(await dig('-x', MAPPED[1]!)).toEqual(['app.corp.test.']);
  });

  it('dig +tcp gets the same answers, several queries on one connection included', async () => {
    expect(await dig('+tcp', 'app.corp.test', 'A')).toEqual(MAPPED);
    expect(await dig('+tcp', 'www.example.test', 'A')).toEqual([UPSTREAM_ANSWER]);
    const aaaa = await dig('+tcp', 'app.corp.test', 'AAAA');
    expect(aaaa).toEqual([
      'fd00:2021:1111:8000::4',
      'fd00:2021:1111:8000::5',
      'fd00:2021:1111:8000::6',
      'fd00:2021:1111:8000::7',
    ]);
    const several = await dig('+tcp', '+keepopen', 'db.corp.test', 'A', 'www.example.test', 'A', 'app.corp.test', 'A');
    expect(several).toHaveLength(9);
    expect(several.slice(4)).toEqual([UPSTREAM_ANSWER, ...MAPPED]);
  });

  it('glibc resolves through the sentinel, retrying over TCP after a truncated UDP answer', async () => {
    const { stdout } = await ns.exec('getent', ['ahostsv4', 'app.corp.test']);
    expect(stdout).toContain(MAPPED[0]);
    const big = await ns.exec('getent', ['ahostsv4', 'big.example.test']);
    const addresses = new Set(
      big.stdout
        .split('\n')
        .map((line) => line.split(/\s+/)[0])
        .filter(Boolean),
    );
    expect(addresses.size).toBe(100);
    expect(addresses.has('198.18.0.100')).toBe(true);
  });

  it('leaves no TCP connection behind', async () => {
    const deadline = Date.now() + 5000;
    while (client.stats().tcpConnections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(client.stats().tcpConnections).toBe(0);
    expect(client.stats().drops).not.toHaveProperty('dns_truncated');
  });
});
