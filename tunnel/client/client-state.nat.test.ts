import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DnsType } from '../dns/index.js';
import { IpProtocol } from '../packet/index.js';
import { formatIp } from '../../protocol/ip.js';
import { CONTROL_COPIES } from '../../protocol/tunnel-control.js';
import { CORP_RESOURCE as CORP, lcg, Simulation } from './testing.js';

function signedIn(): Simulation {
  const sim = new Simulation({ resources: [CORP] });
  sim.signIn();
  return sim;
}

function mappedIp(sim: Simulation, domain: string): string {
  return formatIp(sim.resolve(domain, DnsType.A).addresses[0]!.address);
}

function natStates(sim: Simulation, domain: string): string[] {
  return sim
    .eventsOf('nat_state_changed')
    .filter((e) => e.domain === domain)
    .map((e) => e.state);
}

describe('ClientState DNS-resource NAT', () => {
  it('goes through every state: Pending → Confirmed → Recreating → Confirmed → Recreating → Failed → Pending → Confirmed', () => {
    const sim = signedIn();
    const gateway = sim.gateways[0]!;
    const target = mappedIp(sim, 'app.corp.test');
    sim.sendUdp(target, 9000, new Uint8Array([1]));
    sim.run(300);
    expect(sim.client.mapping('app.corp.test')).toMatchObject({ gatewayId: 'gw-a', natState: 'confirmed' });
    expect(sim.takeFrom(target)).toHaveLength(1); // the echo
    // Each assigned_ips went out in CONTROL_COPIES copies (the first with the handshake, the other after it).
    expect(gateway.assignedIpsCopies).toBe(CONTROL_COPIES * gateway.assignedIpsReceived);
    // A query for the domain 2 s later makes the gateway resolve it again.
    sim.run(2000);
    mappedIp(sim, 'app.corp.test');
    sim.run(100);
    // Records disappear: the next refresh fails it, and packets are refused.
    gateway.noRecords.add('app.corp.test');
    sim.run(2000);
    mappedIp(sim, 'app.corp.test');
    sim.run(100);
    sim.sendUdp(target, 9000, new Uint8Array([2]));
    expect(sim.takeFrom(target).map((p) => [p.protocol, p.icmpType, p.icmpCode])).toEqual([[IpProtocol.Icmp, 3, 1]]);
    // Records are back; a query for the domain recreates the NAT.
    gateway.noRecords.delete('app.corp.test');
    sim.run(2000);
    mappedIp(sim, 'app.corp.test');
    sim.sendUdp(target, 9000, new Uint8Array([3]));
    sim.run(100);
    expect(natStates(sim, 'app.corp.test')).toEqual([
      'pending',
      'confirmed',
      'recreating',
      'confirmed',
      'recreating',
      'failed',
      'pending',
      'confirmed',
    ]);
    expect(gateway.delivered).toHaveLength(2);
  });

  it('re-sends assigned_ips only when triggered and at most every 2 s', () => {
    const sim = signedIn();
    const gateway = sim.gateways[0]!;
    gateway.controlLoss = 1;
    const target = mappedIp(sim, 'app.corp.test');
    for (let t = 0; t < 7000; t += 100) {
      sim.sendUdp(target, 9000, new Uint8Array([1]));
      sim.run(100);
    }
    // Sent at 0 (with the handshake), then by the packets at 2 s, 4 s and 6 s after the last send.
    expect(gateway.assignedIpsByDomain.get('app.corp.test')).toBe(4);
    // Nothing triggers: nothing is sent, however long we wait.
    sim.run(60_000);
    expect(gateway.assignedIpsByDomain.get('app.corp.test')).toBe(4);
    // Any DNS query is a trigger.
    sim.resolve('www.example.test');
    expect(gateway.assignedIpsByDomain.get('app.corp.test')).toBe(5);
    expect(sim.client.mapping('app.corp.test')?.natState).toBe('pending');
  });

  it('does not retry a domain without records on 100 unrelated queries, but on a query for it', () => {
    const sim = signedIn();
    const gateway = sim.gateways[0]!;
    gateway.noRecords.add('gone.corp.test');
    const gone = mappedIp(sim, 'gone.corp.test');
    const live = mappedIp(sim, 'live.corp.test');
    sim.sendUdp(gone, 9000, new Uint8Array([1]));
    sim.sendUdp(live, 9000, new Uint8Array([1]));
    sim.run(300);
    expect(sim.client.mapping('gone.corp.test')?.natState).toBe('failed');
    expect(sim.takeFrom(gone).map((p) => [p.icmpType, p.icmpCode])).toEqual([[3, 1]]);
    const sent = gateway.assignedIpsByDomain.get('gone.corp.test');
    for (let i = 0; i < 100; i++) {
      sim.resolve(i % 2 ? `other${i}.example.test` : `host${i}.corp.test`);
      sim.sendUdp(gone, 9000, new Uint8Array([i]));
      sim.run(2500);
    }
    expect(gateway.assignedIpsByDomain.get('gone.corp.test')).toBe(sent);
    expect(sim.client.mapping('gone.corp.test')?.natState).toBe('failed');
    mappedIp(sim, 'gone.corp.test');
    sim.run(20);
    expect(gateway.assignedIpsByDomain.get('gone.corp.test')).toBe(sent! + 1);
  });

  it('converges to Confirmed for every domain with 30 % of control messages lost (many seeds)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const sim = signedIn();
        const gateway = sim.gateways[0]!;
        gateway.controlLoss = 0.3;
        gateway.random = lcg(seed);
        const random = lcg(seed ^ 0x5bd1e995);
        const domains = Array.from({ length: 20 }, (_, i) => `host${i}.corp.test`);
        const targets = domains.map((domain) => mappedIp(sim, domain));
        for (const target of targets) sim.sendUdp(target, 9000, new Uint8Array([0]));
        // The application keeps working: now and then a packet to some domain, now and then an unrelated query.
        for (let step = 0; step < 120; step++) {
          if (random() < 0.5) sim.sendUdp(targets[Math.floor(random() * targets.length)]!, 9000, new Uint8Array([1]));
          else sim.sendQuery(`unrelated${step}.example.test`);
          sim.run(500);
          if (domains.every((d) => sim.client.mapping(d)?.natState === 'confirmed')) break;
        }
        const states = domains.map((d) => sim.client.mapping(d)?.natState);
        expect(states).toEqual(domains.map(() => 'confirmed'));
      }),
      { numRuns: 30, seed: 3003 },
    );
  });
});
