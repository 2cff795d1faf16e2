import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildQuery, DnsType, Rcode } from '../dns/index.js';
import { buildTcp, buildUdp, IpProtocol, Packet } from '../packet/index.js';
import { formatIp, ip, ipToBytes, reverseName } from '../../protocol/ip.js';
import type { Resource } from '../../protocol/resources.js';
import { CORP_RESOURCE as CORP, CLIENT_TUNNEL, HOST_RESOLVER, Simulation, UPSTREAM_ANSWER } from './testing.js';

const V4_ONLY: Resource = { ...CORP, id: 'res-v4', address: 'legacy.other.test', ipStack: 'ipv4' };
const V6_ONLY: Resource = { ...CORP, id: 'res-v6', address: '?.six.test', ipStack: 'ipv6' };

function signedIn(resources: Resource[] = [CORP, V4_ONLY, V6_ONLY]): Simulation {
  const sim = new Simulation({ resources });
  sim.signIn();
  return sim;
}

const addressesOf = (answer: { addresses: readonly { address: unknown }[] }) =>
  answer.addresses.map((a) => formatIp(a.address as never));

describe('ClientState stub resolver', () => {
  it('gives each resource domain 4 IPv4 and 4 IPv6 mapped IPs with TTL 1, stable and never shared', () => {
    const sim = signedIn();
    const a = sim.resolve('app.corp.test', DnsType.A);
    const aaaa = sim.resolve('APP.corp.test.', DnsType.AAAA);
    expect(a.rcode).toBe(Rcode.NOERROR);
    expect(addressesOf(a)).toEqual(['100.96.0.4', '100.96.0.5', '100.96.0.6', '100.96.0.7']);
    expect(addressesOf(aaaa)).toEqual([
      'fd00:2021:1111:8000::4',
      'fd00:2021:1111:8000::5',
      'fd00:2021:1111:8000::6',
      'fd00:2021:1111:8000::7',
    ]);
    expect(a.answers.every((r) => r.ttl === 1)).toBe(true);
    expect(addressesOf(sim.resolve('app.corp.test'))).toEqual(addressesOf(a));
    const other = addressesOf(sim.resolve('db.eu.corp.test'));
    expect(other).toHaveLength(4);
    expect(other.some((address) => addressesOf(a).includes(address))).toBe(false);
    expect(sim.eventsOf('mapping_created').map((e) => e.mapping.domain)).toEqual(['app.corp.test', 'db.eu.corp.test']);
    // Answering does not open a tunnel.
    expect(sim.portal.requests).toEqual([]);
  });

  it("answers only the families of the resource's IP stack", () => {
    const sim = signedIn();
    expect(sim.resolve('legacy.other.test', DnsType.A).addresses).toHaveLength(4);
    const none = sim.resolve('legacy.other.test', DnsType.AAAA);
    expect(none.rcode).toBe(Rcode.NOERROR);
    expect(none.answers).toEqual([]);
    expect(sim.resolve('x.six.test', DnsType.A).answers).toEqual([]);
    expect(sim.resolve('x.six.test', DnsType.AAAA).addresses).toHaveLength(4);
  });

  it('answers HTTPS for a resource with an empty NOERROR and forwards its other types', () => {
    const sim = signedIn();
    const https = sim.resolve('app.corp.test', DnsType.HTTPS);
    expect(https.rcode).toBe(Rcode.NOERROR);
    expect(https.answers).toEqual([]);
    expect(sim.upstreamQueries).toEqual([]);
    sim.resolve('app.corp.test', DnsType.MX);
    expect(sim.upstreamQueries).toHaveLength(1);
  });

  it('answers PTR for mapped IPs, NXDOMAIN for unassigned ones, and forwards other reverse names', () => {
    const sim = signedIn();
    sim.resolve('app.corp.test', DnsType.A);
    const id = sim.sendQuery('5.0.96.100.in-addr.arpa', DnsType.PTR);
    sim.run(10);
    const ptr = dnsPacket.decode(Buffer.from(sim.takeDnsPayload(id)!));
    expect(ptr.answers).toMatchObject([
      { type: 'PTR', name: '5.0.96.100.in-addr.arpa', data: 'app.corp.test', ttl: 1 },
    ]);
    const v6 = sim.sendQuery(reverseName(ip('fd00:2021:1111:8000::4')), DnsType.PTR);
    sim.run(10);
    expect(dnsPacket.decode(Buffer.from(sim.takeDnsPayload(v6)!)).answers).toMatchObject([{ data: 'app.corp.test' }]);
    expect(sim.resolve('9.9.99.100.in-addr.arpa', DnsType.PTR).rcode).toBe(Rcode.NXDOMAIN);
    sim.resolve('1.2.0.192.in-addr.arpa', DnsType.PTR);
    expect(sim.upstreamQueries).toHaveLength(1);
  });

  it('answers use-application-dns.net with NXDOMAIN so browsers keep DoH off', () => {
    const sim = signedIn();
    expect(sim.resolve('use-application-dns.net', DnsType.A).rcode).toBe(Rcode.NXDOMAIN);
    expect(sim.resolve('Use-Application-DNS.net.', DnsType.AAAA).rcode).toBe(Rcode.NXDOMAIN);
    expect(sim.upstreamQueries).toEqual([]);
  });

  it('applies block rules: REFUSED, or the static address for its family', () => {
    const sim = new Simulation({ resources: [CORP] });
    sim.client.handlePortalMessage(
      {
        ...sim.portal.init(),
        blockRules: [
          { pattern: '*.ads.test' },
          { pattern: 'tracker.test', answer: '0.0.0.0' },
          { pattern: 'secret.corp.test' },
        ],
      },
      sim.now,
    );
    sim.pump();
    expect(sim.resolve('x.y.ads.test').rcode).toBe(Rcode.REFUSED);
    const tracker = sim.resolve('tracker.test', DnsType.A);
    expect(addressesOf(tracker)).toEqual(['0.0.0.0']);
    expect(sim.resolve('tracker.test', DnsType.AAAA).answers).toEqual([]);
    // A block rule beats a resource.
    expect(sim.resolve('secret.corp.test').rcode).toBe(Rcode.REFUSED);
    expect(sim.upstreamQueries).toEqual([]);
  });

  it('forwards everything else to the upstream of the sentinel asked and relays the answer, id preserved', () => {
    const sim = signedIn();
    expect(sim.client.sentinels()).toEqual([{ sentinel: '100.100.111.1', upstream: HOST_RESOLVER }]);
    const answer = sim.resolve('www.example.test', DnsType.A);
    expect(addressesOf(answer)).toEqual([UPSTREAM_ANSWER]);
    expect(sim.upstreamQueries).toMatchObject([{ server: HOST_RESOLVER, port: 53, transport: 'udp' }]);
    // Not granted = not intercepted: a name of no granted resource is forwarded, even under a corp-looking domain.
    sim.resolve('app.notgranted.test');
    expect(sim.upstreamQueries).toHaveLength(2);
  });

  it('answers SERVFAIL when the upstream fails, times out, or answers another question', () => {
    const sim = signedIn();
    sim.upstream = () => ({ error: 'ECONNREFUSED' });
    expect(sim.resolve('a.example.test').rcode).toBe(Rcode.SERVFAIL);
    sim.upstream = () => undefined;
    const id = sim.sendQuery('b.example.test');
    sim.run(3999);
    expect(sim.takeDnsAnswer(id)).toBeUndefined();
    sim.run(1);
    expect(sim.takeDnsAnswer(id)?.rcode).toBe(Rcode.SERVFAIL);
    sim.upstream = (query) => {
      // A well-formed response, but to another question.
      const other = buildQuery((query.payload[0]! << 8) | query.payload[1]!, 'other.test', DnsType.A);
      if (!other.ok) throw new Error(other.error.message);
      const bytes = Uint8Array.from(other.value);
      bytes[2] = bytes[2]! | 0x80;
      return bytes;
    };
    expect(sim.resolve('c.example.test').rcode).toBe(Rcode.SERVFAIL);
    expect(sim.client.stats().dnsUpstreamFailures).toBe(3);
  });

  it('gives portal upstreams their own sentinels, replacing the host resolvers', () => {
    const sim = signedIn();
    sim.client.handlePortalMessage(
      { type: 'config_changed', upstreamResolvers: ['10.0.0.53', '2001:db8::53', '100.96.1.1'], blockRules: [] },
      sim.now,
    );
    sim.pump();
    expect(sim.client.sentinels()).toEqual([
      { sentinel: '100.100.111.1', upstream: '10.0.0.53' },
      { sentinel: 'fd00:2021:1111:8000:100:100:111:1', upstream: '2001:db8::53' },
    ]);
    const changed = sim.eventsOf('dns_sentinels_changed').at(-1)!;
    expect(changed.ignored).toMatchObject([{ upstream: '100.96.1.1' }]);
    sim.resolve('www.example.test');
    expect(sim.upstreamQueries.at(-1)!.server).toBe('10.0.0.53');
    // Back to the host's resolvers when the portal clears its list.
    sim.client.handlePortalMessage({ type: 'config_changed', upstreamResolvers: [], blockRules: [] }, sim.now);
    expect(sim.client.sentinels()).toEqual([{ sentinel: '100.100.111.1', upstream: HOST_RESOLVER }]);
  });

  it("takes the portal's mapped ranges; other ranges drop the old mappings", () => {
    const sim = signedIn();
    expect(addressesOf(sim.resolve('app.corp.test'))[0]).toBe('100.96.0.4');
    const config = {
      type: 'config_changed' as const,
      upstreamResolvers: [],
      blockRules: [],
      mappedRanges: { ipv4: '10.200.0.0/16', ipv6: 'fd99::/64' },
    };
    sim.client.handlePortalMessage(config, sim.now);
    sim.client.handlePortalMessage(config, sim.now);
    sim.pump();
    expect(sim.eventsOf('mappings_cleared')).toEqual([
      { type: 'mappings_cleared', ranges: ['10.200.0.0/16', 'fd99::/64'] },
    ]);
    expect(sim.eventsOf('routes_changed').at(-1)!.routes).toEqual([
      '10.200.0.0/16',
      '100.100.111.0/24',
      'fd00:2021:1111:8000:100:100:111:0/120',
      'fd99::/64',
    ]);
    expect(sim.client.mappings()).toEqual([]);
    expect(addressesOf(sim.resolve('app.corp.test'))).toEqual(['10.200.0.4', '10.200.0.5', '10.200.0.6', '10.200.0.7']);
    expect(addressesOf(sim.resolve('app.corp.test', DnsType.AAAA))[0]).toBe('fd99::4');
    // Absent ranges mean the defaults again.
    sim.client.handlePortalMessage({ ...config, mappedRanges: undefined }, sim.now);
    expect(addressesOf(sim.resolve('app.corp.test'))[0]).toBe('100.96.0.4');
  });

  it('answers malformed queries with FORMERR or drops them, and never throws on random bytes', () => {
    const sim = signedIn();
    const twoQuestions = new Uint8Array([
      0x12, 0x34, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1, 1, 98, 0, 0, 1, 0, 1,
    ]);
    sim.sendUdp(sim.sentinel, 53, twoQuestions, 5000);
    sim.run(1);
    expect(sim.takeDnsAnswer(0x1234)?.rcode).toBe(Rcode.FORMERR);
    sim.sendUdp(sim.sentinel, 53, new Uint8Array([1, 2, 3]), 5001);
    expect(sim.tun).toEqual([]);
    const stateBefore = sim.client.stats();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (payload, tcp) => {
        const src = ipToBytes(ip(CLIENT_TUNNEL.ipv4));
        const dst = ipToBytes(ip(sim.sentinel));
        if (tcp) {
          sim.client.handleTunPacket(
            buildTcp({ src, dst, srcPort: 6000, dstPort: 53, seq: 1, ack: 0, flags: 0x18, window: 1000, payload }),
            sim.now,
          );
        } else {
          sim.client.handleTunPacket(buildUdp({ src, dst, srcPort: 6001, dstPort: 53, payload }), sim.now);
        }
        sim.client.handleTunPacket(payload, sim.now);
        sim.pump();
      }),
      { numRuns: 2000, seed: 4 },
    );
    expect(sim.client.stats().dnsQueries).toBeGreaterThan(stateBefore.dnsQueries);
  });

  it('answers ICMP port unreachable for other ports and unknown sentinels', () => {
    const sim = signedIn();
    sim.sendUdp(sim.sentinel, 5353, new Uint8Array(4));
    sim.sendUdp('100.100.111.77', 53, new Uint8Array(4));
    const p = new Packet();
    const kinds = sim.tun.map((bytes) => (p.parse(bytes), [p.protocol, p.icmpType, p.icmpCode]));
    expect(kinds).toEqual([
      [IpProtocol.Icmp, 3, 3],
      [IpProtocol.Icmp, 3, 3],
    ]);
  });

  it('answers a truncating upstream with TC so the application retries over TCP', () => {
    const sim = signedIn();
    sim.upstream = (query) => {
      const big = dnsPacket.decode(Buffer.from(query.payload));
      return dnsPacket.encode({
        ...big,
        type: 'response',
        answers: Array.from({ length: 100 }, (_, i) => ({ type: 'A', name: 'big.example.test', data: `10.0.0.${i}` })),
      });
    };
    const answer = sim.resolve('big.example.test');
    expect(answer.truncated).toBe(true);
    expect(answer.answers).toEqual([]);
  });
});
