import { describe, expect, it } from 'vitest';
import { DnsType } from '../dns/index.js';
import { formatIp } from '../../protocol/ip.js';
import type { Resource } from '../../protocol/resources.js';
import { Simulation } from './testing.js';

const CORP: Resource = {
  id: 'res-corp',
  name: 'corp',
  siteId: 'site-a',
  filters: [],
  type: 'dns',
  address: '*.corp.test',
  ipStack: 'dual',
};

describe('ClientState', () => {
  it('smoke: resolve, first packet authorizes, NAT confirms, packet delivered and echoed', () => {
    const sim = new Simulation({ resources: [CORP] });
    sim.signIn();
    const answer = sim.resolve('app.corp.test', DnsType.A);
    const mapped = answer.addresses.map((a) => formatIp(a.address));
    expect(mapped).toHaveLength(4);
    sim.sendUdp(mapped[0]!, 9999, new Uint8Array([1, 2, 3]));
    sim.run(200);
    console.log(sim.events.map((e) => e.type).join(','), sim.client.stats());
    expect(sim.gateways[0]!.delivered).toHaveLength(1);
    expect(sim.takeFrom(mapped[0]!)).toHaveLength(1);
  });
});
