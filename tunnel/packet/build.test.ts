import { describe, expect, it } from 'vitest';
import { checksumProblems } from '../testing/checksums.js';
import {
  ICMPV4_ERROR_MAX,
  ICMPV6_ERROR_MAX,
  IpProtocol,
  Packet,
  TcpFlag,
  buildIcmpEcho,
  buildIcmpError,
  buildTcp,
  buildUdp,
  computeTransportChecksum,
  parseAddress,
  write16,
  write32,
  type IcmpErrorKind,
} from './index.js';

const A4 = parseAddress('192.0.2.1')!;
const B4 = parseAddress('198.51.100.7')!;
const A6 = parseAddress('2001:db8::1')!;
const B6 = parseAddress('2001:db8::2')!;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function parse(bytes: Uint8Array): Packet {
  const p = new Packet();
  expect(p.parse(bytes)).toBeUndefined();
  expect(checksumProblems(p)).toEqual([]);
  return p;
}

describe('builders', () => {
  // The expected transport bytes come from packets made by an independent implementation (see packet.test.ts).
  it('builds UDP/IPv4 around a payload', () => {
    const out = buildUdp({ src: A4, dst: B4, srcPort: 1234, dstPort: 53, payload: Buffer.from('hello'), ipId: 7 });
    const p = parse(out);
    expect([p.version, p.protocol, p.ttl, p.fragmentId, p.isFragment, p.length]).toEqual([4, 17, 64, 7, false, 33]);
    expect(hex(out.subarray(20))).toBe('04d20035000dcabe68656c6c6f');
  });

  it('builds UDP/IPv6 with a hop limit', () => {
    const p = parse(buildUdp({ src: A6, dst: B6, srcPort: 53, dstPort: 5000, payload: new Uint8Array(100), ttl: 1 }));
    expect([p.version, p.ttl, p.srcPort, p.dstPort, p.payloadLength, p.udpLength]).toEqual([6, 1, 53, 5000, 100, 108]);
  });

  it('builds TCP segments with options, flags, seq/ack and window', () => {
    const syn = buildTcp({
      src: A6,
      dst: B6,
      srcPort: 40000,
      dstPort: 443,
      seq: 0x01020304,
      ack: 0,
      flags: TcpFlag.SYN,
      window: 65535,
      options: Uint8Array.from([2, 4, 5, 0xb4]),
    });
    expect(hex(syn.subarray(40))).toBe('9c4001bb01020304000000006002ffff9ab00000020405b4');
    const data = parse(
      buildTcp({
        src: B4,
        dst: A4,
        srcPort: 53,
        dstPort: 40000,
        seq: 0xfffffff0,
        ack: 0x80000000,
        flags: TcpFlag.PSH | TcpFlag.ACK,
        window: 1024,
        payload: Buffer.from('\x00\x02hi'),
      }),
    );
    expect([data.tcpSeq, data.tcpAck, data.tcpFlags, data.tcpWindow, data.tcpHeaderLength, data.payloadLength]).toEqual(
      [0xfffffff0, 0x80000000, TcpFlag.PSH | TcpFlag.ACK, 1024, 20, 4],
    );
    for (const flags of [TcpFlag.SYN | TcpFlag.ACK, TcpFlag.ACK, TcpFlag.FIN | TcpFlag.ACK, TcpFlag.RST]) {
      expect(
        parse(buildTcp({ src: A4, dst: B4, srcPort: 1, dstPort: 2, seq: 1, ack: 2, flags, window: 0 })).tcpFlags,
      ).toBe(flags);
    }
  });

  it('builds ICMP and ICMPv6 echoes', () => {
    const v4 = buildIcmpEcho({ src: A4, dst: B4, id: 0xbeef, seq: 7, payload: Buffer.from('ping') });
    expect(hex(v4.subarray(20))).toBe('08005a38beef000770696e67');
    const reply = parse(buildIcmpEcho({ src: B6, dst: A6, reply: true, id: 1, seq: 2 }));
    expect([reply.protocol, reply.icmpType, reply.icmpId, reply.icmpSeq, reply.isIcmpEcho]).toEqual([
      58,
      129,
      1,
      2,
      true,
    ]);
  });

  it('refuses addresses of two families and bad TCP options with a RangeError', () => {
    expect(() => buildUdp({ src: A4, dst: B6, srcPort: 1, dstPort: 2, payload: new Uint8Array() })).toThrow(RangeError);
    expect(() =>
      buildUdp({ src: A4.subarray(1), dst: B4.subarray(1), srcPort: 1, dstPort: 2, payload: new Uint8Array() }),
    ).toThrow(RangeError);
    const tcp = { src: A4, dst: B4, srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0, window: 0 };
    expect(() => buildTcp({ ...tcp, options: new Uint8Array(3) })).toThrow(RangeError);
    expect(() => buildTcp({ ...tcp, options: new Uint8Array(44) })).toThrow(RangeError);
    expect(() => buildUdp({ src: A4, dst: B4, srcPort: 1, dstPort: 2, payload: new Uint8Array(70000) })).toThrow(
      RangeError,
    );
  });
});

describe('buildIcmpError', () => {
  const offender = (src: Uint8Array, dst: Uint8Array, size = 100) => {
    const p = new Packet();
    p.parse(buildUdp({ src, dst, srcPort: 5353, dstPort: 9, payload: new Uint8Array(size).fill(0x61) }));
    return p;
  };

  it.each<[IcmpErrorKind, number, number, number, number]>([
    ['net-unreachable', 3, 0, 1, 0],
    ['host-unreachable', 3, 1, 1, 3],
    ['port-unreachable', 3, 3, 1, 4],
    ['admin-prohibited', 3, 13, 1, 1],
    ['packet-too-big', 3, 4, 2, 0],
    ['time-exceeded', 11, 0, 3, 0],
  ])('builds %s (ICMPv4 %i/%i, ICMPv6 %i/%i) carrying the offending packet', (kind, t4, c4, t6, c6) => {
    for (const [src, dst, type, code] of [
      [A4, B4, t4, c4],
      [A6, B6, t6, c6],
    ] as const) {
      const bad = offender(src, dst);
      const out = buildIcmpError(bad, { src: dst, kind, mtu: 1280 });
      if (typeof out === 'string') throw new Error(out);
      const p = parse(out);
      expect([p.icmpType, p.icmpCode, keyOf(p.dstAddress()), keyOf(p.srcAddress())]).toEqual([
        type,
        code,
        keyOf(src),
        keyOf(dst),
      ]);
      if (kind === 'packet-too-big') expect(p.icmpMtu).toBe(1280);
      expect(p.isIcmpError).toBe(true);
      const inner = p.embedded();
      if (typeof inner === 'string') throw new Error(inner);
      expect([inner.truncated, inner.srcPort, inner.dstPort, inner.length]).toEqual([false, 5353, 9, bad.length]);
      expect(checksumProblems(inner)).toEqual([]);
    }
  });

  it('keeps within 576 bytes for IPv4 and 1280 for IPv6, cutting the original', () => {
    for (const [src, dst, max] of [
      [A4, B4, ICMPV4_ERROR_MAX],
      [A6, B6, ICMPV6_ERROR_MAX],
    ] as const) {
      const out = buildIcmpError(offender(src, dst, 1400), { src: dst, kind: 'admin-prohibited' });
      if (typeof out === 'string') throw new Error(out);
      expect(out.length).toBe(max);
      const inner = parse(out).embedded();
      if (typeof inner === 'string') throw new Error(inner);
      expect([inner.truncated, inner.protocol, inner.srcPort, inner.dstPort]).toEqual([true, IpProtocol.Udp, 5353, 9]);
    }
  });

  it('refuses errors about errors, later fragments and multicast or unspecified addresses', () => {
    const error = new Packet();
    error.parse(buildIcmpError(offender(A4, B4), { src: B4, kind: 'host-unreachable' }) as Uint8Array);
    expect(buildIcmpError(error, { src: A4, kind: 'host-unreachable' })).toBe('offending-is-icmp-error');

    const fragment = new Packet();
    const bytes = buildUdp({ src: A4, dst: B4, srcPort: 1, dstPort: 2, payload: new Uint8Array(8) });
    bytes[7] = 3; // fragment offset 24 bytes; the header checksum does not matter to the refusal
    fragment.parse(bytes);
    expect(buildIcmpError(fragment, { src: B4, kind: 'host-unreachable' })).toBe('offending-is-later-fragment');

    const cases: Array<[string, string, IcmpErrorKind, string | undefined]> = [
      ['192.0.2.1', '224.0.0.251', 'port-unreachable', 'offending-not-unicast'],
      ['192.0.2.1', '255.255.255.255', 'port-unreachable', 'offending-not-unicast'],
      ['0.0.0.0', '192.0.2.1', 'port-unreachable', 'offending-not-unicast'],
      ['2001:db8::1', 'ff02::fb', 'port-unreachable', 'offending-not-unicast'],
      ['::', '2001:db8::1', 'port-unreachable', 'offending-not-unicast'],
      ['ff02::1', '2001:db8::1', 'packet-too-big', 'offending-not-unicast'],
      // Path MTU discovery needs "packet too big" for multicast too (RFC 4443 2.4 e.3).
      ['2001:db8::1', 'ff0e::1', 'packet-too-big', undefined],
    ];
    for (const [src, dst, kind, refusal] of cases) {
      const result = buildIcmpError(offender(parseAddress(src)!, parseAddress(dst)!), {
        src: parseAddress(dst.includes(':') ? '2001:db8::99' : '192.0.2.99')!,
        kind,
        mtu: 1280,
      });
      expect(typeof result === 'string' ? result : undefined, `${src} → ${dst} ${kind}`).toBe(refusal);
    }
  });

  it('reads a parameter problem (not built here) with its pointer and original', () => {
    for (const [src, dst, type, pointer] of [
      [A4, B4, 12, 8],
      [A6, B6, 4, 40],
    ] as const) {
      const out = buildIcmpError(offender(src, dst), { src: dst, kind: 'host-unreachable' }) as Uint8Array;
      const p = parse(out);
      out[p.transportOffset] = type;
      out[p.transportOffset + 1] = 0;
      if (src.length === 4) out[p.transportOffset + 4] = pointer;
      else write32(out, p.transportOffset + 4, pointer);
      write16(out, p.transportChecksumOffset, 0);
      write16(out, p.transportChecksumOffset, computeTransportChecksum(p)!);
      const problem = parse(out);
      expect([problem.isIcmpError, problem.icmpType, problem.icmpPointer]).toEqual([true, type, pointer]);
      const inner = problem.embedded();
      if (typeof inner === 'string') throw new Error(inner);
      expect([inner.protocol, inner.dstPort]).toEqual([IpProtocol.Udp, 9]);
    }
  });

  it('needs an MTU for packet-too-big', () => {
    expect(() => buildIcmpError(offender(A6, B6), { src: B6, kind: 'packet-too-big' })).toThrow(RangeError);
  });
});

function keyOf(address: Uint8Array): string {
  return hex(address);
}
