import { describe, expect, it } from 'vitest';
import {
  decodeClientToGateway,
  decodeGatewayToClient,
  encodeTunnelControl,
  type AssignedIps,
  type DomainStatus,
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
  });

  it.each([
    ['invalid UTF-8', new Uint8Array([0xff, 0xfe])],
    ['not JSON', new TextEncoder().encode('{')],
    [
      'the other direction',
      encodeTunnelControl({ type: 'assigned_ips', resourceId: 'r', domain: 'd', proxyIps: ['1.2.3.4'] }),
    ],
    ['a bad status', new TextEncoder().encode('{"type":"domain_status","resourceId":"r","domain":"d","status":"x"}')],
  ])('rejects %s without throwing', (_, payload) => {
    expect(decodeGatewayToClient(payload).ok).toBe(false);
  });
});
