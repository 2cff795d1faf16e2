import { describe, expect, it } from 'vitest';
import { formatAccessLog } from './access-log.js';

describe('formatAccessLog', () => {
  it('writes one dns-firewall style line per decision', () => {
    const client = '100.64.0.2';
    expect(formatAccessLog({ kind: 'resolve', client, requestId: 7, domain: 'nas.corp.test' })).toBe(
      '100.64.0.2 -> [7] nas.corp.test',
    );
    expect(
      formatAccessLog({
        kind: 'resolved',
        client,
        requestId: 7,
        domain: 'nas.corp.test',
        addresses: ['10.0.0.5', 'fd00::5'],
        ttl: 30,
      }),
    ).toBe('100.64.0.2 <- [7] nas.corp.test [10.0.0.5, fd00::5] TTL:30');
    expect(
      formatAccessLog({ kind: 'resolve_failed', client, requestId: 8, domain: 'x.corp.test', error: 'timeout' }),
    ).toBe('100.64.0.2 <! [8] x.corp.test timeout');
    expect(
      formatAccessLog({ kind: 'refused', client, requestId: 9, domain: 'evil.test', reason: 'not authorized' }),
    ).toBe('100.64.0.2 |> [9] evil.test not authorized');
    expect(
      formatAccessLog({
        kind: 'flow',
        client,
        protocol: 'tcp',
        dst: '100.96.0.1',
        dstPort: 443,
        real: 'fd00::5',
        domain: 'nas.corp.test',
      }),
    ).toBe('100.64.0.2 ~> tcp 100.96.0.1:443 nas.corp.test => [fd00::5]:443');
    expect(
      formatAccessLog({
        kind: 'flow',
        client,
        protocol: 'udp',
        dst: '10.1.0.1',
        dstPort: 53,
        real: '10.1.0.1',
        domain: undefined,
      }),
    ).toBe('100.64.0.2 ~> udp 10.1.0.1:53 => 10.1.0.1:53');
    expect(
      formatAccessLog({
        kind: 'flow_blocked',
        client,
        protocol: 'tcp',
        dst: '10.0.0.9',
        dstPort: 22,
        reason: 'prohibited',
      }),
    ).toBe('100.64.0.2 |> tcp 10.0.0.9:22 prohibited');
    expect(formatAccessLog({ kind: 'malformed', client, reason: 'malformed control message' })).toBe(
      '100.64.0.2 !> malformed control message',
    );
  });
});
