import { describe, expect, it } from 'vitest';
import { captureProblems } from '../testing/capture.js';
import { checksumProblems } from '../testing/checksums.js';
import { readIpPackets } from '../testing/pcap.js';
import { Reassembler } from '../testing/reassemble.js';
import { IpProtocol, Packet, parseAddress, setDstV6, setSrcV4, setSrcV6 } from './index.js';

// Real packets from ping, dig, curl and the kernel's ICMP errors (see fixtures/README.md), checked without root.
const packets = readIpPackets(new URL('fixtures/capture.pcap', import.meta.url).pathname);

describe('captured packets (fixtures/capture.pcap)', () => {
  it('all parse, carry the checksums a full computation gives, survive NAT rewrites, and show every planned kind', () => {
    expect(packets.length).toBeGreaterThan(50);
    expect(captureProblems(packets)).toEqual([]);
  });

  it('notices a corrupted byte (the check above can fail)', () => {
    const p = new Packet();
    const index = packets.findIndex((b) => !p.parse(b) && p.protocol === IpProtocol.Tcp && p.payloadLength > 0);
    const corrupted = packets.map((b) => Uint8Array.from(b));
    corrupted[index]![corrupted[index]!.length - 1]! ^= 0x01;
    expect(captureProblems(corrupted)).toEqual([
      expect.stringMatching(`^packet ${index + 1}: protocol 6 checksum`),
      expect.stringMatching(`^before rewrite: packet ${index + 1}: protocol 6 checksum`),
    ]);
  });

  it('rewrites every fragment of a datagram so the reassembled datagram still checks out', () => {
    const p = new Packet();
    const whole = new Packet();
    let checked = 0;
    for (const version of [4, 6]) {
      const reassembler = new Reassembler();
      for (const bytes of packets) {
        const copy = Uint8Array.from(bytes);
        if (p.parse(copy) || !p.isFragment || p.version !== version) continue;
        if (version === 4) setSrcV4(p, 0x64400001);
        else {
          setSrcV6(p, parseAddress('fd00:2021:1111::5')!);
          setDstV6(p, parseAddress('2001:db8::80')!);
        }
        const datagram = reassembler.add(p);
        if (!datagram) continue;
        expect(whole.parse(datagram)).toBeUndefined();
        expect(checksumProblems(whole)).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4);
  });
});
