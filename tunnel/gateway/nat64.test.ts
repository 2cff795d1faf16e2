import { describe, expect, it } from 'vitest';
import { Packet, buildIcmpError, buildUdp, parseAddress, read16, type IcmpErrorKind } from '../packet/index.js';
import { checksumProblems } from '../testing/checksums.js';
import { translateToIpv4, translateToIpv6 } from './nat64.js';

const ip = (t: string) => parseAddress(t)!;
const V4 = { src: ip('100.64.0.2'), dst: ip('10.0.0.4') };
const V6 = { src: ip('fd00:2021:1111::2'), dst: ip('fd00:99::6') };

function view(bytes: Uint8Array): Packet {
  const p = new Packet();
  expect(p.parse(bytes)).toBeUndefined();
  expect(checksumProblems(p)).toEqual([]);
  return p;
}

describe('NAT64 translation (RFC 7915)', () => {
  it('keeps traffic class, hop limit and payload; a zero UDP/IPv4 checksum becomes a real one', () => {
    const udp4 = buildUdp({ ...V4, srcPort: 1, dstPort: 2, payload: new Uint8Array([9, 8, 7]), ttl: 33 });
    udp4[1] = 0xb8; // DSCP EF
    udp4[26] = 0;
    udp4[27] = 0; // "no checksum"
    const p = new Packet();
    p.parse(udp4);
    const v6 = view(translateToIpv6(p, V6)!);
    expect([v6.version, v6.ttl, ((v6.buffer[0]! & 0x0f) << 4) | (v6.buffer[1]! >> 4)]).toEqual([6, 33, 0xb8]);
    expect(Array.from(v6.buffer.subarray(v6.payloadOffset, v6.end))).toEqual([9, 8, 7]);
    const back = view(translateToIpv4(v6, V4, 42)!);
    expect([back.buffer[1], read16(back.buffer, 4), back.buffer[6]]).toEqual([0xb8, 42, 0]);
  });

  it('sets DF only on IPv4 packets above 1260 bytes', () => {
    const big = buildUdp({ ...V6, srcPort: 1, dstPort: 2, payload: new Uint8Array(1300) });
    const p = new Packet();
    p.parse(big);
    expect(view(translateToIpv4(p, V4, 1)!).buffer[6]).toBe(0x40);
  });

  it('maps ICMPv6 errors to ICMPv4 per RFC 7915 5.2 and ICMPv4 errors to ICMPv6 per 4.2', () => {
    const sent6 = new Packet();
    sent6.parse(buildUdp({ ...V6, srcPort: 5, dstPort: 6, payload: new Uint8Array(4) }));
    const sent4 = new Packet();
    sent4.parse(buildUdp({ ...V4, srcPort: 5, dstPort: 6, payload: new Uint8Array(4) }));
    const cases: [IcmpErrorKind, [number, number], [number, number]][] = [
      ['host-unreachable', [3, 1], [1, 0]],
      ['port-unreachable', [3, 3], [1, 4]],
      ['admin-prohibited', [3, 10], [1, 1]],
      ['time-exceeded', [11, 0], [3, 0]],
    ];
    for (const [kind, as4, as6] of cases) {
      const error6 = new Packet();
      error6.parse(buildIcmpError(sent6, { src: V6.dst, kind }) as Uint8Array);
      const t4 = view(translateToIpv4(error6, { src: V4.dst, dst: V4.src }, 1, V4)!);
      expect([t4.icmpType, t4.icmpCode], kind).toEqual(as4);
      const inner4 = t4.embedded() as Packet;
      expect([inner4.version, inner4.srcPort, inner4.dstPort]).toEqual([4, 5, 6]);

      const error4 = new Packet();
      error4.parse(buildIcmpError(sent4, { src: V4.dst, kind }) as Uint8Array);
      const t6 = view(translateToIpv6(error4, { src: V6.dst, dst: V6.src }, V6)!);
      expect([t6.icmpType, t6.icmpCode], kind).toEqual(as6);
    }
  });

  it('translates packet-too-big MTUs across the 20-byte header difference', () => {
    const sent4 = new Packet();
    sent4.parse(buildUdp({ ...V4, srcPort: 5, dstPort: 6, payload: new Uint8Array(4) }));
    const fragNeeded = new Packet();
    fragNeeded.parse(buildIcmpError(sent4, { src: V4.dst, kind: 'packet-too-big', mtu: 1400 }) as Uint8Array);
    const ptb = view(translateToIpv6(fragNeeded, { src: V6.dst, dst: V6.src }, V6)!);
    expect([ptb.icmpType, ptb.icmpMtu]).toEqual([2, 1420]);
  });

  it('drops what RFC 7915 does not translate', () => {
    const p = new Packet();
    const other = buildUdp({ ...V4, srcPort: 5, dstPort: 6, payload: new Uint8Array(4) });
    other[9] = 47; // GRE
    p.parse(other);
    expect(translateToIpv6(p, V6)).toBeUndefined();
  });
});
