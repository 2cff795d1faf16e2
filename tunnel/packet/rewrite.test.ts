import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allChecksumProblems, checksumProblems } from '../testing/checksums.js';
import {
  IpProtocol,
  Packet,
  TcpFlag,
  buildIcmpEcho,
  buildIcmpError,
  buildTcp,
  buildUdp,
  computeTransportChecksum,
  internetChecksum,
  parseAddress,
  read16,
  setDstPort,
  setDstV4,
  setDstV6,
  setIcmpId,
  setSrcPort,
  setSrcV4,
  setSrcV6,
  write16,
  writeIpv4Header,
} from './index.js';

const A4 = parseAddress('100.64.0.1')!;
const B4 = parseAddress('100.96.0.7')!;
const A6 = parseAddress('fd00:2021:1111::1')!;
const B6 = parseAddress('fd00:2021:1111:8000::7')!;
const REAL6 = parseAddress('2001:db8:5::80')!;

function view(bytes: Uint8Array): Packet {
  const p = new Packet();
  expect(p.parse(bytes)).toBeUndefined();
  return p;
}

function inner(p: Packet): Packet {
  const e = p.embedded();
  if (typeof e === 'string') throw new Error(e);
  return e;
}

describe('rewrites', () => {
  it('NATs a UDP/IPv4 packet: addresses and ports, checksums as a full recomputation gives', () => {
    const p = view(buildUdp({ src: A4, dst: B4, srcPort: 40000, dstPort: 53, payload: Buffer.from('query') }));
    setSrcV4(p, 0xc0a80101);
    setDstV4(p, 0x0a000005);
    setSrcPort(p, 61000);
    setDstPort(p, 5353);
    expect([p.srcV4, p.dstV4, p.srcPort, p.dstPort]).toEqual([0xc0a80101, 0x0a000005, 61000, 5353]);
    expect(checksumProblems(p)).toEqual([]);
  });

  it('NATs TCP and ICMPv6 over IPv6 (pseudo-header) and the echo id', () => {
    const tcp = view(
      buildTcp({ src: A6, dst: B6, srcPort: 1, dstPort: 443, seq: 9, ack: 0, flags: TcpFlag.SYN, window: 100 }),
    );
    setDstV6(tcp, REAL6);
    setSrcV6(tcp, Uint8Array.from([0, 0, ...B6]), 2);
    setSrcPort(tcp, 2);
    expect(checksumProblems(tcp)).toEqual([]);
    expect(Buffer.from(tcp.srcAddress())).toEqual(Buffer.from(B6));

    const echo = view(buildIcmpEcho({ src: A6, dst: B6, id: 77, seq: 1, payload: new Uint8Array(56) }));
    setDstV6(echo, REAL6);
    setIcmpId(echo, 4242);
    expect([echo.icmpId, echo.icmpSeq]).toEqual([4242, 1]);
    expect(checksumProblems(echo)).toEqual([]);
  });

  it('leaves the ICMPv4 checksum alone for addresses (no pseudo-header) and fixes it for the id', () => {
    const echo = view(buildIcmpEcho({ src: A4, dst: B4, id: 1, seq: 1 }));
    const before = read16(echo.buffer, echo.transportChecksumOffset);
    setDstV4(echo, 0x08080808);
    expect(read16(echo.buffer, echo.transportChecksumOffset)).toBe(before);
    setIcmpId(echo, 2);
    expect(checksumProblems(echo)).toEqual([]);
  });

  it('keeps a UDP/IPv4 checksum of 0 ("none") at 0', () => {
    const bytes = buildUdp({ src: A4, dst: B4, srcPort: 1, dstPort: 2, payload: new Uint8Array(4) });
    write16(bytes, 26, 0);
    const p = view(bytes);
    setSrcV4(p, 0x01020304);
    setSrcPort(p, 999);
    expect(read16(bytes, 26)).toBe(0);
    expect(checksumProblems(p)).toEqual([]); // the IPv4 header checksum was still updated
  });

  it('writes a UDP checksum that comes out 0 as 0xffff, and a TCP one as 0', () => {
    for (const protocol of [IpProtocol.Udp, IpProtocol.Tcp]) {
      const spec = { src: A4, dst: B4, srcPort: 1000, dstPort: 2 };
      const bytes =
        protocol === IpProtocol.Udp
          ? buildUdp({ ...spec, payload: new Uint8Array(6) })
          : buildTcp({ ...spec, seq: 1, ack: 2, flags: TcpFlag.ACK, window: 3 });
      const p = view(bytes);
      // Pick the source port that makes the covered words sum to 0xffff, i.e. a computed checksum of 0.
      const checksum = read16(bytes, p.transportChecksumOffset);
      const sumWithoutPort = (~checksum & 0xffff) - 1000;
      const port = ((-sumWithoutPort % 0xffff) + 0xffff) % 0xffff;
      setSrcPort(p, port);
      expect(read16(bytes, p.transportChecksumOffset)).toBe(protocol === IpProtocol.Udp ? 0xffff : 0);
      expect(computeTransportChecksum(p)).toBe(protocol === IpProtocol.Udp ? 0xffff : 0);
    }
  });

  it('rewrites the original inside an ICMP error, fixing its checksums and the outer ICMP checksum', () => {
    for (const [src, dst] of [
      [A4, B4],
      [A6, B6],
    ] as const) {
      const offending = view(buildUdp({ src, dst, srcPort: 40000, dstPort: 9, payload: new Uint8Array(20) }));
      const error = view(buildIcmpError(offending, { src: dst, kind: 'port-unreachable' }) as Uint8Array);
      const original = inner(error);
      // The gateway's reverse NAT: the error goes back to the client with the mapped addresses and port restored.
      if (src.length === 4) {
        setDstV4(error, 0x0a0a0a0a);
        setSrcV4(original, 0x0a0a0a0a);
        setDstV4(original, 0xcb007101);
      } else {
        setDstV6(error, REAL6);
        setSrcV6(original, REAL6);
        setDstV6(original, A6);
      }
      setSrcPort(original, 1111);
      setDstPort(original, 2222);
      expect(allChecksumProblems(view(error.buffer))).toEqual([]);
      expect([inner(view(error.buffer)).srcPort, inner(view(error.buffer)).dstPort]).toEqual([1111, 2222]);
    }
  });

  it('rewrites an embedded TCP header cut at 8 bytes without touching bytes past it', () => {
    const syn = view(
      buildTcp({ src: A4, dst: B4, srcPort: 5, dstPort: 6, seq: 7, ack: 0, flags: TcpFlag.SYN, window: 1 }),
    );
    // ICMPv4 error carrying the IP header and the first 8 bytes of TCP, as RFC 792 minimum routers send.
    const bytes = new Uint8Array(20 + 8 + 28 + 4).fill(0xee);
    writeIpv4Header(bytes, 0, B4, A4, IpProtocol.Icmp, 56, 64, 0);
    bytes.set([3, 1, 0, 0, 0, 0, 0, 0], 20);
    bytes.set(syn.buffer.subarray(0, 28), 28);
    write16(bytes, 22, internetChecksum(bytes, 20, 56));
    const error = view(bytes);
    const original = inner(error);
    expect([original.truncated, original.transportHeaderComplete, original.transportChecksumOffset]).toEqual([
      true,
      false,
      -1,
    ]);
    expect([original.srcPort, original.dstPort, original.tcpSeq]).toEqual([5, 6, 7]);
    setSrcV4(original, 0x01010101);
    setSrcPort(original, 5000);
    expect(checksumProblems(error)).toEqual([]);
    expect(checksumProblems(original)).toEqual([]);
    expect(Array.from(bytes.subarray(56))).toEqual([0xee, 0xee, 0xee, 0xee]);
  });

  it('matches a full recomputation after any rewrites of any built packet, also inside ICMP errors', () => {
    const address = (v4: boolean) => fc.uint8Array({ minLength: v4 ? 4 : 16, maxLength: v4 ? 4 : 16 });
    const packet = fc.boolean().chain((v4) =>
      fc.record({
        v4: fc.constant(v4),
        src: address(v4),
        dst: address(v4),
        kind: fc.constantFrom('udp', 'tcp', 'echo'),
        a: fc.integer({ min: 0, max: 0xffff }),
        b: fc.integer({ min: 0, max: 0xffff }),
        payload: fc.uint8Array({ maxLength: 64 }),
        wrap: fc.boolean(),
        rewrites: fc.array(
          fc.tuple(fc.constantFrom('src', 'dst', 'sport', 'dport', 'id'), address(v4), fc.nat(0xffff)),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
      }),
    );
    fc.assert(
      fc.property(packet, ({ v4, src, dst, kind, a, b, payload, wrap, rewrites }) => {
        // Unicast sources so an ICMP error may be built about the packet.
        src[0] = v4 ? 10 : 0xfd;
        const spec = { src, dst, srcPort: a, dstPort: b, payload };
        let bytes =
          kind === 'udp'
            ? buildUdp(spec)
            : kind === 'tcp'
              ? buildTcp({ ...spec, seq: a * b, ack: b, flags: a & 0xff, window: b })
              : buildIcmpEcho({ src, dst, id: a, seq: b, payload });
        let p = view(bytes);
        if (wrap) {
          const error = buildIcmpError(p, { src: dst, kind: 'admin-prohibited' });
          if (typeof error === 'string') return;
          bytes = error;
          p = inner(view(bytes));
        }
        for (const [what, address, n] of rewrites) {
          if (what === 'src' || what === 'dst') {
            if (v4) (what === 'src' ? setSrcV4 : setDstV4)(p, ((address[0]! << 24) | (address[1]! << 16) | n) >>> 0);
            else (what === 'src' ? setSrcV6 : setDstV6)(p, address);
          } else if (kind === 'echo') setIcmpId(p, n);
          else (what === 'sport' ? setSrcPort : setDstPort)(p, n);
        }
        expect(allChecksumProblems(view(bytes))).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });
});
