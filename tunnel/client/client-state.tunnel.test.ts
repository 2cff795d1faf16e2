import { describe, expect, it } from 'vitest';
import { DnsType } from '../dns/index.js';
import { buildIcmpEcho, IpProtocol, Packet } from '../packet/index.js';
import { formatIp, ip, ipToBytes } from '../../protocol/ip.js';
import type { Resource } from '../../protocol/resources.js';
import { CLIENT_TUNNEL, CORP_RESOURCE as CORP, Simulation } from './testing.js';

const LAB: Resource = {
  id: 'res-lab',
  name: 'lab',
  siteId: 'site-a',
  filters: [],
  type: 'cidr',
  address: '10.20.0.0/16',
};

function signedIn(resources: Resource[] = [CORP, LAB]): Simulation {
  const sim = new Simulation({ resources });
  sim.signIn();
  return sim;
}

function mappedIp(sim: Simulation, domain: string): string {
  return formatIp(sim.resolve(domain, DnsType.A).addresses[0]!.address);
}

const icmp = (p: Packet) => [p.protocol, p.icmpType, p.icmpCode];

describe('ClientState lazy tunnel', () => {
  it('asks the portal on the first packet, at most every 2 s while packets keep coming', () => {
    const sim = signedIn();
    const target = mappedIp(sim, 'app.corp.test');
    // The portal does not answer: requests repeat only while packets come, once per 2 s.
    sim.portal.handle = (_key, message, now) => {
      if (message.type === 'request_authorization')
        sim.portal.requests.push({ resourceId: message.resourceId, at: now });
      return [];
    };
    for (let i = 0; i < 50; i++) {
      sim.sendUdp(target, 9000, new Uint8Array([i]));
      sim.run(100);
    }
    const at = sim.portal.requests.map((r) => r.at - sim.portal.requests[0]!.at);
    expect(at).toEqual([0, 2000, 4000]);
    sim.run(10_000);
    expect(sim.portal.requests).toHaveLength(3);
    expect(sim.eventsOf('resource_status_changed').map((e) => e.status)).toEqual(['connecting']);
  });

  it('buffers at most 128 first packets (oldest dropped, SYN retransmissions once) and replays them', () => {
    const sim = signedIn();
    const target = mappedIp(sim, 'app.corp.test');
    sim.portal.authorizationTtlMs = 3_600_000;
    const answer = sim.portal.handle.bind(sim.portal);
    let held: (() => void) | undefined;
    sim.portal.handle = (key, message, now) => {
      // Hold the answer until the test releases it.
      held = () => {
        for (const reply of answer(key, message, now)) sim.client.handlePortalMessage(reply, sim.now);
        sim.pump();
      };
      return [];
    };
    sim.sendSyn(target, 443, 50000, 7);
    sim.sendSyn(target, 443, 50000, 7);
    sim.sendSyn(target, 443, 50000, 7);
    for (let i = 0; i < 200; i++) sim.sendUdp(target, 9000, new Uint8Array([i]));
    sim.run(10);
    held!();
    sim.run(500);
    const delivered = sim.gateways[0]!.delivered.map((bytes) => {
      const p = new Packet();
      p.parse(bytes);
      return p.protocol === IpProtocol.Udp ? p.buffer[p.payloadOffset] : 'syn';
    });
    expect(delivered).toHaveLength(128);
    expect(delivered[0]).toBe(72);
    expect(delivered.at(-1)).toBe(199);
    expect(sim.client.stats().bufferedBytes).toBe(0);
  });

  it('collapses a retransmitted SYN into one replayed SYN', () => {
    const sim = signedIn();
    const target = mappedIp(sim, 'app.corp.test');
    sim.sendSyn(target, 443, 50000, 7);
    sim.sendSyn(target, 443, 50000, 7);
    sim.run(500);
    expect(sim.gateways[0]!.delivered).toHaveLength(1);
    expect(sim.takeFrom(target).map((p) => p.tcpFlags)).toEqual([0x12]);
  });

  it('sends CIDR resource packets right after the handshake, unchanged', () => {
    const sim = signedIn();
    sim.sendUdp('10.20.1.2', 7, new Uint8Array([1]));
    sim.sendUdp('10.20.1.3', 7, new Uint8Array([2]));
    expect(sim.client.routes()).toContain('10.20.0.0/16');
    sim.run(300);
    expect(sim.gateways[0]!.delivered).toHaveLength(2);
    expect(sim.gateways[0]!.assignedIpsReceived).toBe(0);
    expect(sim.takeFrom('10.20.1.2')).toHaveLength(1);
    expect(sim.client.resources().find((r) => r.resource.id === 'res-lab')?.status).toBe('online');
  });

  it('carries ping to a DNS resource over IPv6 and IPv4', () => {
    const sim = signedIn();
    const v6 = formatIp(sim.resolve('app.corp.test', DnsType.AAAA).addresses[0]!.address);
    const v4 = mappedIp(sim, 'app.corp.test');
    for (const [target, source] of [
      [v6, CLIENT_TUNNEL.ipv6],
      [v4, CLIENT_TUNNEL.ipv4],
    ] as const) {
      sim.client.handleTunPacket(
        buildIcmpEcho({ src: ipToBytes(ip(source)), dst: ipToBytes(ip(target)), id: 77, seq: 1 }),
        sim.now,
      );
      sim.pump();
      sim.run(300);
      const replies = sim.takeFrom(target);
      expect(replies.map((p) => [p.isIcmpEcho, p.icmpId])).toEqual([[true, 77]]);
    }
  });

  it('one peer per gateway carries several resources', () => {
    const sim = signedIn();
    const target = mappedIp(sim, 'app.corp.test');
    sim.sendUdp(target, 9000, new Uint8Array([1]));
    sim.sendUdp('10.20.1.2', 7, new Uint8Array([2]));
    sim.run(300);
    expect(sim.client.gateways()).toMatchObject([
      { id: 'gw-a', state: 'connected', resourceIds: expect.arrayContaining(['res-corp', 'res-lab']) },
    ]);
    expect(sim.gateways[0]!.device.listPeers()).toHaveLength(1);
  });

  it('answers ICMP unreachable when the portal refuses, and asks again only 2 s later', () => {
    const sim = signedIn();
    sim.portal.forbidden.add('res-lab');
    sim.sendUdp('10.20.1.2', 7, new Uint8Array([1]));
    sim.run(50);
    const errors = sim.takeFrom('10.20.1.2');
    expect(errors.map(icmp)).toEqual([[IpProtocol.Icmp, 3, 13]]);
    expect(sim.client.resources().find((r) => r.resource.id === 'res-lab')?.status).toBe('forbidden');
    sim.sendUdp('10.20.1.2', 7, new Uint8Array([2]));
    expect(sim.takeFrom('10.20.1.2').map(icmp)).toEqual([[IpProtocol.Icmp, 3, 13]]);
    expect(sim.portal.requests).toHaveLength(1);
    sim.run(2000);
    sim.portal.forbidden.clear();
    sim.sendUdp('10.20.1.2', 7, new Uint8Array([3]));
    sim.run(300);
    expect(sim.portal.requests).toHaveLength(2);
    expect(sim.gateways[0]!.delivered).toHaveLength(1);
  });

  it('refuses packets to mapped IPs of domains no granted resource matches, and to unassigned mapped IPs', () => {
    const sim = signedIn();
    const target = mappedIp(sim, 'app.corp.test');
    sim.client.handlePortalMessage({ type: 'resource_deleted', resourceId: 'res-corp' }, sim.now);
    sim.pump();
    expect(sim.client.mapping('app.corp.test')?.resourceId).toBeUndefined();
    sim.sendUdp(target, 9000, new Uint8Array([1]));
    expect(sim.takeFrom(target).map(icmp)).toEqual([[IpProtocol.Icmp, 3, 13]]);
    sim.sendUdp('100.97.0.1', 9000, new Uint8Array([1]));
    expect(sim.takeFrom('100.97.0.1').map(icmp)).toEqual([[IpProtocol.Icmp, 3, 1]]);
    expect(sim.portal.requests).toEqual([]);
  });

  it('re-establishes a dead tunnel on the next packet, without a new DNS query', () => {
    const sim = signedIn();
    const target = mappedIp(sim, 'app.corp.test');
    sim.sendUdp(target, 9000, new Uint8Array([1]));
    sim.run(300);
    const gateway = sim.gateways[0]!;
    expect(gateway.delivered).toHaveLength(1);
    const queriesBefore = sim.eventsOf('dns_query').length;

    // The gateway restarts mid-stream: its sessions, peers and NAT are gone.
    gateway.restart();
    for (let second = 0; second < 150; second++) {
      sim.sendUdp(target, 9000, new Uint8Array([2]));
      sim.run(1000);
    }
    expect(sim.eventsOf('gateway_disconnected')).toMatchObject([{ gatewayId: 'gw-a', reason: 'handshake_failed' }]);
    expect(sim.eventsOf('gateway_connected')).toHaveLength(2);
    // Traffic flows again through a new authorization, handshake and NAT set-up; nobody asked DNS.
    expect(gateway.delivered.length).toBeGreaterThan(10);
    expect(sim.eventsOf('dns_query')).toHaveLength(queriesBefore);
    expect(sim.portal.requests).toHaveLength(2);
    expect(sim.client.mapping('app.corp.test')?.natState).toBe('confirmed');
  });

  it('renews an authorization before it expires, and asks again after it expired', () => {
    const sim = signedIn();
    sim.portal.authorizationTtlMs = 120_000;
    sim.sendUdp('10.20.1.2', 7, new Uint8Array([1]));
    sim.run(61_000);
    expect(sim.portal.requests).toHaveLength(1);
    sim.sendUdp('10.20.1.2', 7, new Uint8Array([2]));
    sim.run(100);
    // Within a minute of expiry: asked again while the packet went through.
    expect(sim.portal.requests).toHaveLength(2);
    expect(sim.gateways[0]!.delivered).toHaveLength(2);

    sim.portal.handle = () => [];
    sim.run(200_000);
    sim.sendUdp('10.20.1.2', 7, new Uint8Array([3]));
    expect(sim.portal.requests).toHaveLength(2);
    expect(sim.client.resources().find((r) => r.resource.id === 'res-lab')?.status).toBe('connecting');
  });

  it('keeps mapped IPs across sign-out and sign-in, and old IPs work again without a query', () => {
    const sim = signedIn();
    const target = mappedIp(sim, 'app.corp.test');
    const other = mappedIp(sim, 'db.corp.test');
    const table = () =>
      sim.client
        .mappings()
        .map((m) => [m.domain, m.ipv4, m.ipv6])
        .sort();
    const before = table();
    sim.sendUdp(target, 9000, new Uint8Array([1]));
    sim.run(300);
    expect(sim.takeFrom(target)).toHaveLength(1);
    sim.client.reset();
    sim.pump();
    expect(sim.eventsOf('gateway_disconnected').at(-1)?.reason).toBe('sign_out');
    expect(sim.client.resources()).toEqual([]);
    sim.sendUdp(target, 9000, new Uint8Array([2]));
    expect(sim.takeFrom(target).map(icmp)).toEqual([[IpProtocol.Icmp, 3, 13]]);

    sim.signIn();
    const queries = sim.eventsOf('dns_query').length;
    sim.sendUdp(other, 9000, new Uint8Array([3]));
    sim.run(300);
    expect(sim.eventsOf('dns_query')).toHaveLength(queries);
    const last = new Packet();
    last.parse(sim.gateways[0]!.delivered.at(-1)!);
    expect(last.buffer[last.payloadOffset]).toBe(3);
    expect(table()).toEqual(before);
    expect(mappedIp(sim, 'app.corp.test')).toBe(target);
    expect(mappedIp(sim, 'db.corp.test')).toBe(other);
  });

  it('moves a domain to a more specific resource added later', () => {
    const sim = signedIn();
    const target = mappedIp(sim, 'app.corp.test');
    const specific: Resource = { ...CORP, id: 'res-app', address: 'app.corp.test' };
    sim.client.handlePortalMessage({ type: 'resource_created_or_updated', resource: specific }, sim.now);
    sim.pump();
    expect(sim.eventsOf('mapping_changed').map((e) => [e.mapping.domain, e.mapping.resourceId])).toEqual([
      ['app.corp.test', 'res-app'],
    ]);
    expect(mappedIp(sim, 'app.corp.test')).toBe(target);
    sim.sendUdp(target, 9000, new Uint8Array([1]));
    sim.run(10);
    expect(sim.portal.requests.map((r) => r.resourceId)).toEqual(['res-app']);
  });
});
