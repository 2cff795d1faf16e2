import { describe, expect, it } from 'vitest';
import { buildQuery, DnsType, Rcode } from '../dns/index.js';
import { buildUdp } from '../packet/index.js';
import { generatePrivateKey, seededRng } from '../wireguard/index.js';
import { formatIp, ip, ipToBytes } from '../../protocol/ip.js';
import type { Resource } from '../../protocol/resources.js';
import { ClientState } from './client-state.js';
import { Simulation } from './testing.js';

const SITE_A: Resource = {
  id: 'res-a',
  name: 'a',
  siteId: 'site-a',
  filters: [],
  type: 'dns',
  address: '*.a.corp.test',
  ipStack: 'dual',
};
const SITE_B: Resource = { ...SITE_A, id: 'res-b', name: 'b', siteId: 'site-b', address: '*.b.corp.test' };
const TWO_GATEWAYS = [
  { id: 'gw-a', siteId: 'site-a', host: '203.0.113.1', tunnel: { ipv4: '100.64.0.101', ipv6: 'fd00:2021:1111::101' } },
  { id: 'gw-b', siteId: 'site-b', host: '203.0.113.2', tunnel: { ipv4: '100.64.0.102', ipv6: 'fd00:2021:1111::102' } },
];

describe('ClientState simulation', () => {
  it('one client, two gateways in two sites, 1,000 domains: every domain reaches its service, in < 5 s', () => {
    const started = performance.now();
    const sim = new Simulation({ resources: [SITE_A, SITE_B], gateways: TWO_GATEWAYS });
    sim.signIn();
    const domains = Array.from({ length: 1000 }, (_, i) => `host${i}.${i % 2 ? 'b' : 'a'}.corp.test`);
    const targets = domains.map((domain) => {
      const id = sim.sendQuery(domain, i6(domain) ? DnsType.AAAA : DnsType.A);
      const answer = sim.takeDnsAnswer(id)!;
      return formatIp(answer.addresses[0]!.address);
    });
    // Each application sends a datagram and, like a TCP SYN, sends it again after a second without an answer: the
    // first-packet buffer keeps only 128 per resource while the tunnel comes up.
    let waiting = targets;
    for (let round = 0; round < 3 && waiting.length > 0; round++) {
      for (const target of waiting) sim.sendUdp(target, 9000, new Uint8Array([round]));
      sim.run(1000);
      waiting = waiting.filter((target) => sim.takeFrom(target).length === 0);
    }
    expect(waiting).toEqual([]);

    const [a, b] = sim.gateways;
    expect(a!.delivered.length).toBeGreaterThanOrEqual(500);
    expect(b!.delivered.length).toBeGreaterThanOrEqual(500);
    expect(sim.client.mappings().every((m) => m.natState === 'confirmed')).toBe(true);
    expect(new Set(sim.client.mappings().map((m) => m.gatewayId))).toEqual(new Set(['gw-a', 'gw-b']));
    // One authorization per resource, one peer per gateway.
    expect(sim.portal.requests.map((r) => r.resourceId).sort()).toEqual(['res-a', 'res-b']);
    expect(sim.client.gateways().map((g) => g.state)).toEqual(['connected', 'connected']);
    expect(sim.client.stats()).toMatchObject({ mappedDomains: 1000, natEntries: 1000, bufferedBytes: 0 });
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

/** Every third domain is asked for over IPv6 (AAAA), so both families take part. */
function i6(domain: string): boolean {
  return Number(/\d+/.exec(domain)![0]) % 3 === 0;
}

describe('ClientState under a flood', () => {
  const CORP: Resource = { ...SITE_A, id: 'res-corp', address: '*.corp.test' };

  it('stops mapping at maxMappedDomains with SERVFAIL and a rate-limited event', () => {
    const sim = new Simulation({ resources: [CORP], client: { maxMappedDomains: 500 } });
    sim.signIn();
    let servfail = 0;
    for (let i = 0; i < 5000; i++) {
      const id = sim.sendQuery(`random${i}.corp.test`);
      if (sim.takeDnsAnswer(id)?.rcode === Rcode.SERVFAIL) servfail++;
      if (i % 100 === 0) sim.run(100);
    }
    expect(sim.client.stats().mappedDomains).toBe(500);
    expect(servfail).toBe(4500);
    const events = sim.eventsOf('mapped_ips_exhausted');
    expect(events.length).toBeGreaterThan(0);
    expect(events.length).toBeLessThanOrEqual(6);
    expect(events[0]!.message).toContain('limit of 500 domains');
  });

  it('bounds forwarded queries waiting for an upstream, answering the excess SERVFAIL', () => {
    const sim = new Simulation({ resources: [CORP] });
    sim.signIn();
    sim.upstream = () => undefined;
    for (let i = 0; i < 3000; i++) sim.sendQuery(`q${i}.example.test`);
    expect(sim.client.stats().pendingUpstreamQueries).toBe(1024);
    expect(sim.tun).toHaveLength(3000 - 1024);
    sim.run(4000);
    expect(sim.client.stats().pendingUpstreamQueries).toBe(0);
    expect(sim.tun).toHaveLength(3000);
  });

  it('bounds buffered packets in total while tunnels cannot come up', () => {
    const sim = new Simulation({ resources: [CORP] });
    sim.signIn();
    sim.portal.handle = () => [];
    const targets = Array.from({ length: 50 }, (_, i) =>
      formatIp(sim.resolve(`h${i}.corp.test`).addresses[0]!.address),
    );
    const payload = new Uint8Array(1200);
    for (let i = 0; i < 20_000; i++) sim.sendUdp(targets[i % targets.length]!, 9000, payload);
    const stats = sim.client.stats();
    expect(stats.bufferedBytes).toBeLessThanOrEqual(128 * 1228);
    expect(stats.pendingFlows).toBe(1);
  });

  it('bounds its queues when the driver does not drain them', () => {
    const client = new ClientState({ privateKey: generatePrivateKey(seededRng('k')), rng: seededRng('r') });
    client.setHostResolvers(['192.0.2.53']);
    for (let i = 0; i < 10_000; i++) {
      const query = buildQuery(i & 0xffff, 'use-application-dns.net', DnsType.A);
      if (!query.ok) throw new Error(query.error.message);
      client.handleTunPacket(
        buildUdp({
          src: ipToBytes(ip('100.64.0.2')),
          dst: ipToBytes(ip('100.100.111.1')),
          srcPort: 1000 + (i % 50_000),
          dstPort: 53,
          payload: query.value,
        }),
        0,
      );
    }
    const stats = client.stats();
    expect(stats.droppedEvents).toBeGreaterThan(0);
    expect(stats.droppedTunPackets).toBe(10_000 - 4096);
    let events = 0;
    while (client.pollEvent()) events++;
    expect(events).toBe(4096);
  });
});
