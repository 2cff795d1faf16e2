import { describe, expect, it } from 'vitest';
import {
  IpProtocol,
  Packet,
  TcpFlag,
  computeIpv4HeaderChecksum,
  computeTransportChecksum,
  keyToString,
  read16,
  type PacketError,
} from './index.js';

// Hand-made packets, their checksums computed by an independent implementation (a few lines of Python's struct).
const HEX = {
  /** IPv4 UDP 192.0.2.1:1234 → 198.51.100.7:53, "hello", DF, id 0x1234. */
  udp4: '450000211234400040113c5cc0000201c633640704d20035000dcabe68656c6c6f',
  /** IPv4 with 4 bytes of options (NOP NOP NOP EOL), ICMP echo request id 0xbeef seq 7, "ping". */
  icmp4opts: '460000241234400040013968c0000201c63364070101010008005a38beef000770696e67',
  /** IPv6 2001:db8::1 → 2001:db8::2, Hop-by-Hop (8) → Destination Options (16) → TCP SYN 40000→443 with MSS. */
  tcp6ext:
    '600000000030004020010db800000000000000000000000120010db80000000000000000000000023c000104000000000601010c' +
    '0000000000000000000000009c4001bb01020304000000006002ffff9ab00000020405b4',
  /** IPv6 Routing (8) → AH (24) → Fragment (offset 0, M, id 0xcafe0001) → UDP 5353→5353 (length 108, 20 here). */
  udp6frag0:
    '60000000003c2b4020010db800000000000000000000000120010db8000000000000000000000002330004000000000' +
    '02c040000000000000000000000000000000000000000000011000001cafe000114e914e9006c1234303132333435363738396162',
  /** IPv6 later fragment (offset 24, last) of the same datagram. */
  udp6frag1:
    '6000000000182c4020010db800000000000000000000000120010db800000000000000000000000211000018cafe0001' +
    '78787878787878787878787878787878',
};
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const parsed = (hex: string, pad = 0) => {
  const p = new Packet();
  const buf = new Uint8Array(pad + hex.length / 2 + pad);
  buf.set(bytes(hex), pad);
  expect(p.parse(buf, pad, hex.length / 2)).toBeUndefined();
  return p;
};

describe('Packet', () => {
  it('reads an IPv4 UDP packet in place', () => {
    const p = parsed(HEX.udp4);
    expect([p.version, p.protocol, p.ipOffset, p.transportOffset, p.end, p.length]).toEqual([4, 17, 0, 20, 33, 33]);
    expect([keyToString(p.srcKey()), keyToString(p.dstKey()), p.srcV4, p.dstV4]).toEqual([
      '192.0.2.1',
      '198.51.100.7',
      0xc0000201,
      0xc6336407,
    ]);
    expect([p.srcPort, p.dstPort, p.udpLength, p.ttl, p.fragmentId, p.isFragment]).toEqual([
      1234,
      53,
      13,
      64,
      0x1234,
      false,
    ]);
    expect(Buffer.from(p.buffer.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength)).toString()).toBe('hello');
    expect(computeIpv4HeaderChecksum(p)).toBe(0x3c5c);
    expect(computeTransportChecksum(p)).toBe(0xcabe);
    // Zero-copy: a change to the bytes is what the view reads next.
    p.buffer[p.transportOffset + 1] = 99;
    expect(p.srcPort).toBe(1123);
  });

  it('works at an offset inside a larger buffer and ignores bytes after the IP length', () => {
    const p = parsed(HEX.udp4, 7);
    expect([p.ipOffset, p.transportOffset, p.payloadOffset, p.payloadLength, p.end]).toEqual([7, 27, 35, 5, 40]);
    expect(computeTransportChecksum(p)).toBe(0xcabe);
    const padded = new Uint8Array(60);
    padded.set(bytes(HEX.udp4));
    expect(p.parse(padded)).toBeUndefined();
    expect([p.end, p.payloadLength]).toEqual([33, 5]);
  });

  it('skips IPv4 options and reads an ICMP echo', () => {
    const p = parsed(HEX.icmp4opts);
    expect([p.protocol, p.transportOffset, p.isIcmpEcho, p.isIcmpError]).toEqual([IpProtocol.Icmp, 24, true, false]);
    expect([p.icmpType, p.icmpCode, p.icmpId, p.icmpSeq, p.payloadLength]).toEqual([8, 0, 0xbeef, 7, 4]);
    expect(computeIpv4HeaderChecksum(p)).toBe(0x3968);
    expect(computeTransportChecksum(p)).toBe(0x5a38);
  });

  it('skips Hop-by-Hop and Destination Options headers to TCP, leaving options alone', () => {
    const p = parsed(HEX.tcp6ext);
    expect([p.version, p.protocol, p.transportOffset, p.tcpHeaderLength, p.payloadOffset]).toEqual([6, 6, 64, 24, 88]);
    expect([keyToString(p.srcKey()), keyToString(p.dstKey())]).toEqual(['2001:db8::1', '2001:db8::2']);
    expect([p.srcPort, p.dstPort, p.tcpSeq, p.tcpAck, p.tcpFlags, p.tcpWindow]).toEqual([
      40000,
      443,
      0x01020304,
      0,
      TcpFlag.SYN,
      65535,
    ]);
    expect(p.buffer.subarray(84, 88)).toEqual(Uint8Array.from([2, 4, 5, 0xb4]));
    expect(computeTransportChecksum(p)).toBe(0x9ab0);
  });

  it('skips Routing and AH headers, recognises a first fragment and its transport header', () => {
    const p = parsed(HEX.udp6frag0);
    expect([p.protocol, p.transportOffset, p.isFragment, p.fragmentOffset, p.moreFragments]).toEqual([
      17,
      40 + 8 + 24 + 8,
      true,
      0,
      true,
    ]);
    expect([p.fragmentId, p.hasTransportHeader, p.srcPort, p.dstPort, p.payloadLength]).toEqual([
      0xcafe0001,
      true,
      5353,
      5353,
      12,
    ]);
    // A fragment's checksum covers the reassembled datagram: not computable from one fragment.
    expect(computeTransportChecksum(p)).toBeUndefined();
  });

  it('recognises a later fragment, which has no transport header', () => {
    const p = parsed(HEX.udp6frag1);
    expect([p.protocol, p.isFragment, p.fragmentOffset, p.moreFragments, p.hasTransportHeader]).toEqual([
      17,
      true,
      24,
      false,
      false,
    ]);
    expect([p.transportOffset, p.payloadOffset, p.payloadLength, p.transportChecksumOffset]).toEqual([48, 48, 16, -1]);
  });

  it.each<[string, string, PacketError]>([
    ['empty', '', 'truncated'],
    ['version 5', '50' + '00'.repeat(39), 'unknown-version'],
    ['IPv4 shorter than 20 bytes', HEX.udp4.slice(0, 38), 'truncated'],
    ['IPv4 IHL 4', '44' + HEX.udp4.slice(2), 'bad-header-length'],
    ['IPv4 total length below the header', HEX.udp4.slice(0, 4) + '0010' + HEX.udp4.slice(8), 'bad-header-length'],
    ['IPv4 total length past the bytes', HEX.udp4.slice(0, 4) + '0030' + HEX.udp4.slice(8), 'truncated'],
    ['UDP length below 8', HEX.udp4.slice(0, 48) + '0007' + HEX.udp4.slice(52), 'bad-udp-length'],
    ['UDP length past the packet', HEX.udp4.slice(0, 48) + '0020' + HEX.udp4.slice(52), 'bad-udp-length'],
    ['IPv6 payload past the bytes', HEX.tcp6ext.slice(0, -2), 'truncated'],
    [
      'extension header past the packet',
      HEX.tcp6ext.slice(0, 82) + '09' + HEX.tcp6ext.slice(84),
      'bad-extension-header',
    ],
    ['TCP data offset 4', HEX.tcp6ext.slice(0, 152) + '40' + HEX.tcp6ext.slice(154), 'bad-tcp-header'],
    ['TCP data offset past the packet', HEX.tcp6ext.slice(0, 152) + '70' + HEX.tcp6ext.slice(154), 'bad-tcp-header'],
  ])('returns an error for %s', (_what, hex, error) => {
    const p = new Packet();
    expect(p.parse(bytes(hex))).toBe(error);
    // A failed parse leaves an empty view, not one half-pointed at the bad bytes.
    expect([p.length, p.buffer.length, p.hasTransportHeader]).toEqual([0, 0, false]);
  });

  it('refuses offsets and lengths outside the buffer without throwing', () => {
    const p = new Packet();
    const buf = bytes(HEX.udp4);
    expect(p.parse(buf, 40)).toBe('truncated');
    expect(p.parse(buf, -1, 10)).toBe('truncated');
    expect(p.parse(buf, 0, 100)).toBe('truncated');
  });

  it('does not parse ICMPv4 inside IPv6 as ICMP', () => {
    const buf = bytes(HEX.tcp6ext);
    buf[6] = IpProtocol.Icmp;
    const p = new Packet();
    expect(p.parse(buf)).toBeUndefined();
    expect([p.protocol, p.hasTransportHeader, p.isIcmpEcho]).toEqual([1, false, false]);
  });

  it('reads the UDP checksum field where rewrites find it', () => {
    const p = parsed(HEX.udp4);
    expect(read16(p.buffer, p.transportChecksumOffset)).toBe(0xcabe);
  });
});
