import { describe, expect, it } from 'vitest';
import { parseAddress as parseIp } from '../packet/index.js';
import { NAT_TIMEOUTS, NatTable, TCP_FIN, TCP_RST, type NatEntrySpec } from './nat-table.js';

const ip = (text: string) => parseIp(text)!;
const T0 = 1_700_000_000_000;

function spec(overrides: Partial<NatEntrySpec> = {}): NatEntrySpec {
  return {
    protocol: 'tcp',
    clientPort: 40000,
    insideDst: ip('100.96.0.1'),
    dstPort: 443,
    outsideDst: ip('10.0.0.5'),
    resourceId: 'r1',
    domain: 'a.corp.test',
    ...overrides,
  };
}

describe('NatTable', () => {
  it('keeps the client port when free and finds the flow both ways', () => {
    const nat = new NatTable();
    const entry = nat.create(spec(), T0)!;
    expect(entry.gatewayPort).toBe(40000);
    expect(nat.outbound('tcp', 40000, ip('100.96.0.1'), 443, T0)).toBe(entry);
    expect(nat.inbound('tcp', 40000, ip('10.0.0.5'), 443, T0)).toBe(entry);
    expect(nat.inbound('udp', 40000, ip('10.0.0.5'), 443, T0)).toBeUndefined();
    expect(nat.inbound('tcp', 40000, ip('10.0.0.6'), 443, T0)).toBeUndefined();
  });

  it('keeps two domains that resolve to the same real IP apart by rewriting the second port', () => {
    const nat = new NatTable();
    const a = nat.create(spec({ insideDst: ip('100.96.0.1'), domain: 'a.corp.test' }), T0)!;
    const b = nat.create(spec({ insideDst: ip('100.96.0.2'), domain: 'b.corp.test' }), T0)!;
    expect(a.gatewayPort).toBe(40000);
    expect(b.gatewayPort).not.toBe(40000);
    expect(b.gatewayPort).toBeGreaterThanOrEqual(1024);
    expect(nat.inbound('tcp', a.gatewayPort, ip('10.0.0.5'), 443, T0)?.domain).toBe('a.corp.test');
    expect(nat.inbound('tcp', b.gatewayPort, ip('10.0.0.5'), 443, T0)?.domain).toBe('b.corp.test');
    expect(nat.outbound('tcp', 40000, ip('100.96.0.2'), 443, T0)).toBe(b);
  });

  it('does not need to rewrite when the destination port differs', () => {
    const nat = new NatTable();
    nat.create(spec({ dstPort: 443 }), T0);
    expect(nat.create(spec({ insideDst: ip('100.96.0.2'), dstPort: 80 }), T0)!.gatewayPort).toBe(40000);
  });

  it('expires unanswered flows after 60 s, answered UDP after 2 min and TCP after 2 h 4 min', () => {
    const nat = new NatTable();
    const unanswered = nat.create(spec({ protocol: 'udp', clientPort: 1 }), T0)!;
    const udp = nat.create(spec({ protocol: 'udp', clientPort: 2 }), T0)!;
    const tcp = nat.create(spec({ clientPort: 3 }), T0)!;
    nat.noteInbound(udp, 100, 0, T0);
    nat.noteInbound(tcp, 100, 0, T0);
    expect(nat.sweep(T0 + NAT_TIMEOUTS.unansweredMs - 1)).toEqual([]);
    expect(nat.sweep(T0 + NAT_TIMEOUTS.unansweredMs)).toEqual([unanswered]);
    expect(nat.sweep(T0 + NAT_TIMEOUTS.udpMs)).toEqual([udp]);
    expect(nat.sweep(T0 + NAT_TIMEOUTS.tcpMs - 1)).toEqual([]);
    expect(nat.outbound('tcp', 3, ip('100.96.0.1'), 443, T0 + NAT_TIMEOUTS.tcpMs)).toBeUndefined();
    expect(nat.size).toBe(0);
  });

  it('ends a TCP flow 5 s after FIN both ways and at once on RST', () => {
    const nat = new NatTable();
    const fin = nat.create(spec({ clientPort: 1 }), T0)!;
    nat.noteInbound(fin, 60, 0, T0);
    nat.noteOutbound(fin, 60, TCP_FIN, T0 + 1000);
    expect(nat.sweep(T0 + 1000 + NAT_TIMEOUTS.finishedMs)).toEqual([]);
    nat.noteInbound(fin, 60, TCP_FIN, T0 + 2000);
    expect(nat.outbound('tcp', 1, ip('100.96.0.1'), 443, T0 + 6999)).toBe(fin);
    expect(nat.sweep(T0 + 2000 + NAT_TIMEOUTS.finishedMs)).toEqual([fin]);

    const rst = nat.create(spec({ clientPort: 2 }), T0)!;
    nat.noteInbound(rst, 40, TCP_RST, T0 + 1);
    expect(nat.outbound('tcp', 2, ip('100.96.0.1'), 443, T0 + 2)).toBeUndefined();
    expect(nat.inbound('tcp', 2, ip('10.0.0.5'), 443, T0 + 2)).toBeUndefined();
  });

  it('frees a port when its flow expired, so a new flow can keep it', () => {
    const nat = new NatTable();
    nat.create(spec({ insideDst: ip('100.96.0.1') }), T0);
    const later = T0 + NAT_TIMEOUTS.unansweredMs;
    expect(nat.create(spec({ insideDst: ip('100.96.0.2') }), later)!.gatewayPort).toBe(40000);
  });

  it('refuses new flows when full', () => {
    const nat = new NatTable(2);
    expect(nat.create(spec({ clientPort: 1 }), T0)).toBeDefined();
    expect(nat.create(spec({ clientPort: 2 }), T0)).toBeDefined();
    expect(nat.create(spec({ clientPort: 3 }), T0)).toBeUndefined();
  });

  it('uses any ICMP id, and translates ICMP across families', () => {
    const nat = new NatTable();
    const echo = { protocol: 'icmp' as const, clientPort: 7, dstPort: 0, outsideDst: ip('fd00:99::5') };
    const a = nat.create(spec({ ...echo, insideDst: ip('100.96.0.1') }), T0)!;
    const b = nat.create(spec({ ...echo, insideDst: ip('100.96.0.2') }), T0)!;
    expect(a.gatewayPort).toBe(7);
    expect(b.gatewayPort).not.toBe(7);
    expect(nat.inbound('icmp', b.gatewayPort, ip('fd00:99::5'), 0, T0)).toBe(b);
  });
});
