import { describe, expect, it } from 'vitest';
import {
  decodeClientToGateway,
  decodeGatewayToClient,
  encodeTunnelControl,
  type AssignedIps,
  type DomainStatus,
  type NatMissing,
} from './tunnel-control.js';

describe('tunnel control codec', () => {
  it('round-trips both directions', () => {
    const assigned: AssignedIps = {
      type: 'assigned_ips',
      resourceId: 'r1',
      domain: 'app.corp.test',
      proxyIps: ['100.96.0.4', 'fd00:2021:1111:8000::4'],
    };
    expect(decodeClientToGateway(encodeTunnelControl(assigned))).toEqual({ ok: true, value: assigned });
    const status: DomainStatus = { type: 'domain_status', resourceId: 'r1', domain: 'app.corp.test', status: 'active' };
    expect(decodeGatewayToClient(encodeTunnelControl(status))).toEqual({ ok: true, value: status });
    for (const proxyIp of ['100.96.0.4', 'fd00:2021:1111:8000::4']) {
      const missing: NatMissing = { type: 'nat_missing', proxyIp };
      expect(decodeGatewayToClient(encodeTunnelControl(missing))).toEqual({ ok: true, value: missing });
    }
  });

  it.each([
    ['invalid UTF-8', new Uint8Array([0xff, 0xfe])],
    ['not JSON', new TextEncoder().encode('{')],
    [
      'the other direction',
      encodeTunnelControl({ type: 'assigned_ips', resourceId: 'r', domain: 'd', proxyIps: ['1.2.3.4'] }),
    ],
    ['a bad status', new TextEncoder().encode('{"type":"domain_status","resourceId":"r","domain":"d","status":"x"}')],
    ['nat_missing without an address', new TextEncoder().encode('{"type":"nat_missing"}')],
    ['nat_missing for a name', new TextEncoder().encode('{"type":"nat_missing","proxyIp":"nas.corp.test"}')],
    ['nat_missing for a CIDR', new TextEncoder().encode('{"type":"nat_missing","proxyIp":"100.96.0.0/11"}')],
  ])('rejects %s without throwing', (_, payload) => {
    expect(decodeGatewayToClient(payload).ok).toBe(false);
  });
});
