import { describe, expect, it } from 'vitest';
import { DnsType } from '../dns/index.js';
import { Packet } from '../packet/index.js';
import { formatIp } from '../../protocol/ip.js';
import type { Resource } from '../../protocol/resources.js';
import { CORP_RESOURCE as CORP, Simulation, type ScriptedGateway } from './testing.js';

/**
 * Seed 001's NAT reset when the gateway is what forgot: a restarted gateway has neither the WireGuard session nor the
 * DNS-resource NAT the client still counts on. Two ways out, neither needing a DNS query: the portal reports the
 * gateway's new connection (the client handshakes again and re-sends `assigned_ips` at once), and the gateway says
 * `nat_missing` for packets it cannot place (the client re-sends `assigned_ips` for that domain).
 */

const OTHER: Resource = { ...CORP, id: 'res-other', name: 'other', siteId: 'site-b', address: '*.other.test' };

function signedIn(resources: Resource[] = [CORP]): Simulation {
  const sim = new Simulation({
    resources,
    gateways: [
      { id: 'gw-a', siteId: 'site-a', host: '203.0.113.1', tunnel: { ipv4: '100.64.0.101', ipv6: 'fd00::101' } },
      { id: 'gw-b', siteId: 'site-b', host: '203.0.113.2', tunnel: { ipv4: '100.64.0.102', ipv6: 'fd00::102' } },
    ],
  });
  sim.signIn();
  return sim;
}

function mappedIp(sim: Simulation, domain: string): string {
  return formatIp(sim.resolve(domain, DnsType.A).addresses[0]!.address);
}

/** A domain with traffic through its gateway and a Confirmed NAT. */
function connected(sim: Simulation, domain: string): string {
  const target = mappedIp(sim, domain);
  sim.sendUdp(target, 9000, new Uint8Array([0]));
  sim.run(300);
  expect(sim.client.mapping(domain)?.natState).toBe('confirmed');
  return target;
}

function natStates(sim: Simulation, domain: string): string[] {
  return sim
    .eventsOf('nat_state_changed')
    .filter((e) => e.domain === domain)
    .map((e) => e.state);
}

function payloads(gateway: ScriptedGateway): number[] {
  return gateway.delivered.map((bytes) => {
    const p = new Packet();
    p.parse(bytes);
    return p.buffer[p.payloadOffset]!;
  });
}

describe('ClientState when its gateway restarts and the portal says so', () => {
  it('handshakes and re-sends assigned_ips at once: every packet after the news gets through, no DNS query', () => {
    const sim = signedIn();
    const gateway = sim.gateways[0]!;
    const target = connected(sim, 'app.corp.test');
    const queries = sim.eventsOf('dns_query').length;
    const assigned = gateway.assignedIpsByDomain.get('app.corp.test')!;

    // Traffic every 200 ms; the gateway restarts at packet 5 and the portal's news arrives one latency later.
    for (let i = 1; i <= 20; i++) {
      if (i === 5) sim.restartGateway(gateway);
      sim.sendUdp(target, 9000, new Uint8Array([i]));
      sim.run(200);
    }

    // Only the packet sent into the dead session was lost: the one after the news went out with the new handshake,
    // behind the `assigned_ips` that made the gateway set the NAT up again.
    expect(payloads(gateway)).toEqual([0, 1, 2, 3, 4, ...Array.from({ length: 15 }, (_, i) => i + 6)]);
    expect(gateway.assignedIpsByDomain.get('app.corp.test')).toBe(assigned + 1);
    expect(natStates(sim, 'app.corp.test')).toEqual(['pending', 'confirmed', 'recreating', 'confirmed']);
    expect(sim.eventsOf('gateway_disconnected')).toEqual([
      { type: 'gateway_disconnected', gatewayId: 'gw-a', reason: 'gateway_restarted' },
    ]);
    expect(sim.eventsOf('gateway_connected')).toHaveLength(2);
    expect(sim.eventsOf('resource_status_changed').map((e) => e.status)).toEqual([
      'connecting',
      'online',
      'connecting',
      'online',
    ]);
    expect(sim.client.mapping('app.corp.test')?.ipv4[0]).toBe(target);
    expect(sim.eventsOf('dns_query')).toHaveLength(queries);
    expect(sim.portal.requests).toHaveLength(1);
  });

  it('keeps a Pending domain’s buffered packets and leaves a Failed domain alone', () => {
    const sim = signedIn();
    const gateway = sim.gateways[0]!;
    connected(sim, 'app.corp.test');
    gateway.noRecords.add('gone.corp.test');
    const gone = mappedIp(sim, 'gone.corp.test');
    sim.run(100);
    expect(sim.client.mapping('gone.corp.test')?.natState).toBe('failed');
    // The gateway is gone before it answers for slow.corp.test: its packets wait in Pending.
    gateway.controlLoss = 1;
    const slow = mappedIp(sim, 'slow.corp.test');
    sim.sendUdp(slow, 9000, new Uint8Array([42]));
    sim.run(100);
    expect(sim.client.mapping('slow.corp.test')?.natState).toBe('pending');
    const goneSent = gateway.assignedIpsByDomain.get('gone.corp.test');

    sim.restartGateway(gateway);
    gateway.controlLoss = 0;
    sim.run(100);
    expect(sim.client.mapping('slow.corp.test')?.natState).toBe('confirmed');
    expect(payloads(gateway)).toEqual([0, 42]);
    expect(sim.client.mapping('gone.corp.test')?.natState).toBe('failed');
    expect(gateway.assignedIpsByDomain.get('gone.corp.test')).toBe(goneSent);
    expect(sim.takeFrom(gone)).toEqual([]);
  });

  it('changes nothing on a renewal (same connection), nor on a first connection id after none', () => {
    const sim = signedIn();
    const gateway = sim.gateways[0]!;
    sim.portal.authorizationTtlMs = 120_000;
    const target = connected(sim, 'app.corp.test');
    const assigned = gateway.assignedIpsByDomain.get('app.corp.test');
    const handshakeAt = sim.client.gateways()[0]!.lastHandshakeAt;

    sim.run(61_000);
    sim.sendUdp(target, 9000, new Uint8Array([1]));
    sim.run(100);
    expect(sim.portal.requests).toHaveLength(2);
    expect(sim.eventsOf('gateway_disconnected')).toEqual([]);
    expect(sim.client.gateways()[0]!.lastHandshakeAt).toBe(handshakeAt);
    expect(gateway.assignedIpsByDomain.get('app.corp.test')).toBe(assigned);

    // An older portal sent no id, a newer one does: neither change says anything about a restart.
    const live = sim.portal.liveAuthorization(CORP.id)!;
    const { connectionId, ...withoutId } = gateway.info;
    for (const info of [withoutId, { ...withoutId, connectionId }]) {
      sim.client.handlePortalMessage(
        {
          type: 'authorization_created',
          resourceId: CORP.id,
          gateway: info,
          presharedKey: live.presharedKey,
          expiresAt: live.expiresAt,
        },
        sim.now,
      );
    }
    sim.sendUdp(target, 9000, new Uint8Array([2]));
    sim.run(100);
    expect(sim.eventsOf('gateway_disconnected')).toEqual([]);
    expect(natStates(sim, 'app.corp.test')).toEqual(['pending', 'confirmed']);
    expect(sim.client.gateways()[0]!.lastHandshakeAt).toBe(handshakeAt);
    expect(gateway.assignedIpsByDomain.get('app.corp.test')).toBe(assigned);
    expect(payloads(gateway)).toEqual([0, 1, 2]);
  });
});

describe('ClientState when its gateway says nat_missing', () => {
  it('re-sends assigned_ips for the domain at once when the gateway lost its NAT, no DNS query', () => {
    const sim = signedIn();
    const gateway = sim.gateways[0]!;
    gateway.reportsMissingNat = true;
    const target = connected(sim, 'app.corp.test');
    const queries = sim.eventsOf('dns_query').length;

    // Later (the 2 s rule: within 2 s of a send, an answer may still be on its way), the gateway forgets the NAT;
    // its sessions stay, and the portal has nothing to report.
    sim.run(2000);
    gateway.forgetNat();
    for (let i = 1; i <= 10; i++) {
      sim.sendUdp(target, 9000, new Uint8Array([i]));
      sim.run(100);
    }
    expect(gateway.blackholed).toBe(1);
    expect(gateway.natMissingSent).toBe(1);
    expect(payloads(gateway)).toEqual([0, ...Array.from({ length: 9 }, (_, i) => i + 2)]);
    expect(natStates(sim, 'app.corp.test')).toEqual(['pending', 'confirmed', 'recreating', 'confirmed']);
    expect(sim.eventsOf('dns_query')).toHaveLength(queries);
  });

  it('acts at most every 2 s per domain, and ignores addresses it did not assign, of another gateway or Failed', () => {
    const sim = signedIn([CORP, OTHER]);
    const [gatewayA, gatewayB] = sim.gateways as [ScriptedGateway, ScriptedGateway];
    const target = connected(sim, 'app.corp.test');
    const elsewhere = connected(sim, 'app.other.test');
    gatewayA.noRecords.add('gone.corp.test');
    const gone = mappedIp(sim, 'gone.corp.test');
    sim.run(100);
    sim.run(2000);
    const sent = () => gatewayA.assignedIpsByDomain.get('app.corp.test');
    const before = sent()!;

    for (let i = 0; i < 10; i++) {
      sim.injectControl(gatewayA, { type: 'nat_missing', proxyIp: target });
      sim.run(100);
    }
    expect(sent()).toBe(before + 1);
    sim.run(1000);
    sim.injectControl(gatewayA, { type: 'nat_missing', proxyIp: target });
    sim.run(10);
    expect(sent()).toBe(before + 2);

    const goneSent = gatewayA.assignedIpsByDomain.get('gone.corp.test');
    const otherSent = gatewayB.assignedIpsByDomain.get('app.other.test');
    for (const proxyIp of ['100.97.0.1', '192.0.2.1', 'fd00:2021:1111:8000::ff:1', elsewhere, gone]) {
      sim.injectControl(gatewayA, { type: 'nat_missing', proxyIp });
    }
    sim.run(100);
    expect(gatewayA.assignedIpsByDomain.get('gone.corp.test')).toBe(goneSent);
    expect(gatewayB.assignedIpsByDomain.get('app.other.test')).toBe(otherSent);
    expect(sim.client.mapping('gone.corp.test')?.natState).toBe('failed');
    expect(sim.client.stats().drops).toMatchObject({
      nat_missing_for_unknown_ip: 3,
      nat_missing_from_other_gateway: 1,
    });
  });
});
