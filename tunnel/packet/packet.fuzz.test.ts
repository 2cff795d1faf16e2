import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzRuns } from '../testing/fuzz.js';
import { readIpPackets } from '../testing/pcap.js';
import {
  IpProtocol,
  Packet,
  computeIpv4HeaderChecksum,
  computeTransportChecksum,
  setDstPort,
  setDstV4,
  setDstV6,
  setIcmpId,
  setSrcPort,
  setSrcV4,
  setSrcV6,
  writeIpv4Header,
  writeIpv6Header,
} from './index.js';

// Random and mutated bytes into every parser (Packet#parse, and Packet#embedded for ICMP errors): each must return a
// typed error or a view whose offsets stay inside the bytes it was given, never throw, and never read outside them —
// checked by parsing the same bytes alone, and inside buffers filled with 0x00 and with 0xff around them: a read
// outside would see different bytes (or undefined) and give a different reading. Rewrites on what parsed must not
// write outside the packet either.

const RUNS = fuzzRuns();
const real = readIpPackets(new URL('fixtures/capture.pcap', import.meta.url).pathname);
const SLACK = 24;
const views = [new Packet(), new Packet(), new Packet()];
const FILLS = [-1, 0x00, 0xff];

/** Everything a caller may read from a view, with offsets relative to where the packet starts. */
function reading(p: Packet, base: number, depth = 0): unknown[] {
  if (p.length === 0) return [];
  const r: unknown[] = [
    p.version,
    p.ipOffset - base,
    p.end - base,
    p.protocol,
    p.transportOffset - base,
    p.payloadOffset - base,
    p.payloadLength,
    p.isFragment,
    p.fragmentOffset,
    p.fragmentId,
    p.truncated,
    p.srcKey(),
    p.dstKey(),
    p.ttl,
    p.hasTransportHeader,
    p.transportHeaderComplete,
  ];
  if (p.version === 4) r.push(p.srcV4, p.dstV4, computeIpv4HeaderChecksum(p));
  if (p.hasTransportHeader) {
    r.push(p.srcPort, p.dstPort, p.icmpType, p.icmpCode, p.icmpId, p.icmpSeq, computeTransportChecksum(p));
    if (p.protocol === IpProtocol.Tcp) r.push(p.tcpSeq);
    if (p.transportHeaderComplete) {
      if (p.protocol === IpProtocol.Tcp) r.push(p.tcpAck, p.tcpFlags, p.tcpWindow, p.tcpHeaderLength);
      if (p.protocol === IpProtocol.Udp) r.push(p.udpLength);
      if (p.protocol !== IpProtocol.Tcp && p.protocol !== IpProtocol.Udp) r.push(p.icmpMtu, p.icmpPointer);
    }
    if (p.isIcmpError && depth === 0) {
      const inner = p.embedded();
      r.push(typeof inner === 'string' ? inner : reading(inner, base, 1));
      // Only one level: the original inside an error is not opened again.
      if (typeof inner !== 'string') expect(inner.embedded()).toBe('not-icmp-error');
    }
  }
  return r;
}

function checkInvariants(p: Packet, start: number, length: number): void {
  const ok =
    p.ipOffset === start &&
    p.transportOffset >= start + (p.version === 4 ? 20 : 40) &&
    p.payloadOffset >= p.transportOffset &&
    p.payloadLength >= 0 &&
    p.payloadOffset + p.payloadLength <= p.end &&
    p.end <= start + length &&
    (!p.hasTransportHeader || p.transportOffset + 8 <= p.end) &&
    (!p.transportHeaderComplete || p.protocol !== IpProtocol.Tcp || p.transportOffset + p.tcpHeaderLength <= p.end);
  if (!ok) expect.fail(`offsets outside the packet: ${JSON.stringify(reading(p, start))}`);
}

/** Parses `bytes` alone and inside 0x00- and 0xff-filled buffers; all three readings must agree. */
function parseEverywhere(bytes: Uint8Array): void {
  let first = '';
  for (const [i, fill] of FILLS.entries()) {
    const p = views[i]!;
    let buf = bytes;
    let start = 0;
    if (fill >= 0) {
      buf = new Uint8Array(bytes.length + 2 * SLACK).fill(fill);
      buf.set(bytes, SLACK);
      start = SLACK;
    }
    const err = p.parse(buf, start, bytes.length);
    if (err === undefined) checkInvariants(p, start, bytes.length);
    const read = err ?? JSON.stringify(reading(p, start));
    if (i === 0) first = read;
    else if (read !== first) expect(read, 'a read outside the bytes changed the reading').toBe(first);
    if (err === undefined && fill >= 0) rewriteInside(p, buf);
  }
}

/** NAT rewrites suited to the packet, then: nothing outside the packet changed. */
function rewriteInside(p: Packet, buf: Uint8Array): void {
  const prefix = buf.slice(0, p.ipOffset);
  const suffix = buf.slice(p.end);
  const targets = [p];
  if (p.isIcmpError) {
    const inner = p.embedded();
    if (typeof inner !== 'string') targets.push(inner);
  }
  for (const t of targets) {
    if (t.version === 4) {
      setSrcV4(t, 0x64400001);
      setDstV4(t, 0x0a000001);
    } else {
      setSrcV6(t, buf, 0); // any 16 bytes will do
      setDstV6(t, buf, 8);
    }
    if (!t.hasTransportHeader) continue;
    if (t.protocol === IpProtocol.Tcp || t.protocol === IpProtocol.Udp) {
      setSrcPort(t, 1);
      setDstPort(t, 2);
    } else if (t.isIcmpEcho) setIcmpId(t, 3);
  }
  if (Buffer.compare(prefix, buf.subarray(0, p.ipOffset)) !== 0) expect.fail('a rewrite wrote before the packet');
  if (Buffer.compare(suffix, buf.subarray(p.end)) !== 0) expect.fail('a rewrite wrote after the packet');
}

const PROTOCOLS = [0, 1, 6, 17, 43, 44, 50, 51, 58, 59, 60, 135, 139, 140, 255];

/** Random bytes that look enough like IP to get past the first checks: a version, often a matching length. */
const ipLike = fc
  .record({
    bytes: fc.uint8Array({ minLength: 0, maxLength: 100 }),
    first: fc.constantFrom(0x45, 0x46, 0x4f, 0x40, 0x60, 0x6f, 0x00, 0x50),
    fixLength: fc.boolean(),
    protocol: fc.constantFrom(...PROTOCOLS),
  })
  .map(({ bytes, first, fixLength, protocol }) => {
    const b = Uint8Array.from(bytes);
    if (b.length > 0) b[0] = first;
    if (first >> 4 === 4 && b.length >= 20) {
      if (fixLength) b.set([b.length >> 8, b.length & 0xff], 2);
      b[9] = protocol;
      b[6]! &= fixLength ? 0x20 : 0xff; // mostly first fragments, so the transport header is parsed
    } else if (first >> 4 === 6 && b.length >= 40) {
      if (fixLength) b.set([(b.length - 40) >> 8, (b.length - 40) & 0xff], 4);
      b[6] = protocol;
    }
    return b;
  });

type Mutation = { at: number; kind: 'set' | 'insert' | 'delete' | 'truncate'; value: number };
const mutation = fc.record({
  // Half the mutations hit the first 120 bytes: the headers, and an ICMP error's embedded headers.
  at: fc.oneof(fc.nat({ max: 120 }), fc.nat()),
  kind: fc.constantFrom<Mutation['kind']>('set', 'set', 'set', 'insert', 'delete', 'truncate'),
  value: fc.integer({ min: 0, max: 255 }),
});

function mutate(original: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = original;
  for (const { at, kind, value } of mutations) {
    const i = b.length === 0 ? 0 : at % b.length;
    if (kind === 'set') {
      if (b === original) b = Uint8Array.from(original);
      if (b.length > 0) b[i] = value;
    } else if (kind === 'insert') {
      const next = new Uint8Array(b.length + 1);
      next.set(b.subarray(0, i));
      next[i] = value;
      next.set(b.subarray(i), i + 1);
      b = next;
    } else if (kind === 'delete') {
      const next = new Uint8Array(b.length - Math.min(b.length - i, 1 + (value % 8)));
      next.set(b.subarray(0, i));
      next.set(b.subarray(i + b.length - next.length), i);
      b = next;
    } else b = Uint8Array.from(b.subarray(0, i));
  }
  return b;
}

/** IP-like bytes as the original inside an ICMP or ICMPv6 error, which `embedded()` parses leniently. */
const inIcmpError = fc.tuple(fc.boolean(), fc.constantFrom(1, 3, 11, 12), ipLike).map(([v4, type, original]) => {
  const header = v4 ? 28 : 48;
  const b = new Uint8Array(header + original.length);
  b.set(original, header);
  if (v4) writeIpv4Header(b, 0, new Uint8Array(4), new Uint8Array(4), IpProtocol.Icmp, b.length, 64, 0);
  else writeIpv6Header(b, 0, new Uint8Array(16), new Uint8Array(16), IpProtocol.Icmpv6, b.length - 40, 64);
  b[header - 8] = type;
  return b;
});

describe(`fuzz: packet parsers (${RUNS} inputs per property)`, () => {
  it('Packet#embedded on random IP-like originals inside ICMP errors', () => {
    fc.assert(fc.property(inIcmpError, parseEverywhere), { numRuns: RUNS });
  });

  it('Packet#parse and #embedded on random IP-like bytes', () => {
    fc.assert(fc.property(ipLike, parseEverywhere), { numRuns: RUNS });
  });

  it('Packet#parse and #embedded on mutated captured packets (ICMP errors included)', () => {
    const errors = real.filter((b) => {
      const p = new Packet();
      return !p.parse(b) && p.isIcmpError;
    });
    expect(errors.length).toBeGreaterThan(5);
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...real), fc.constantFrom(...errors)),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (packet, mutations) => parseEverywhere(mutate(packet, mutations)),
      ),
      { numRuns: RUNS },
    );
  });
});
