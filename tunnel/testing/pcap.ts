import { readFileSync } from 'node:fs';

/**
 * A small reader of classic pcap files (what `tcpdump -w` writes), for tests that check parsers against captured
 * packets. Not pcapng. Throws on a malformed file: captures are test inputs we made ourselves.
 */

export interface PcapRecord {
  /** Capture time in microseconds since the epoch (nanosecond files are rounded). */
  timeUs: number;
  /** The frame as captured, link-layer header included. */
  frame: Uint8Array;
  /** The frame's length on the wire (more than `frame.length` if the snap length cut it). */
  wireLength: number;
}

export interface Pcap {
  /** LINKTYPE_* of the frames: 1 Ethernet, 101 raw IP, 113 Linux cooked, 276 Linux cooked v2, … */
  linkType: number;
  records: PcapRecord[];
}

export function parsePcap(bytes: Uint8Array): Pcap {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) throw new Error('pcap: shorter than its file header');
  const magic = view.getUint32(0, false);
  let little: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) little = false;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) little = true;
  else throw new Error(`pcap: unknown magic 0x${magic.toString(16)} (pcapng is not supported)`);
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const linkType = view.getUint32(20, little) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let at = 24;
  while (at < bytes.length) {
    if (at + 16 > bytes.length) throw new Error(`pcap: record header cut at byte ${at}`);
    const seconds = view.getUint32(at, little);
    const fraction = view.getUint32(at + 4, little);
    const captured = view.getUint32(at + 8, little);
    const wireLength = view.getUint32(at + 12, little);
    if (at + 16 + captured > bytes.length) throw new Error(`pcap: record at byte ${at} runs past the file`);
    records.push({
      timeUs: seconds * 1e6 + (nano ? Math.round(fraction / 1000) : fraction),
      frame: bytes.subarray(at + 16, at + 16 + captured),
      wireLength,
    });
    at += 16 + captured;
  }
  return { linkType, records };
}

/** The IP packet in a captured frame, or undefined for anything else (ARP, other link protocols). */
export function ipPacketOf(linkType: number, frame: Uint8Array): Uint8Array | undefined {
  let etherType: number;
  let start: number;
  switch (linkType) {
    case 101: // LINKTYPE_RAW
    case 228: // LINKTYPE_IPV4
    case 229: // LINKTYPE_IPV6
      return frame;
    case 1: // Ethernet, with any 802.1Q tags
      start = 12;
      etherType = (frame[start]! << 8) | frame[start + 1]!;
      while (etherType === 0x8100 || etherType === 0x88a8) {
        start += 4;
        etherType = (frame[start]! << 8) | frame[start + 1]!;
      }
      start += 2;
      break;
    case 113: // Linux cooked (tcpdump -i any)
      etherType = (frame[14]! << 8) | frame[15]!;
      start = 16;
      break;
    case 276: // Linux cooked v2
      etherType = (frame[0]! << 8) | frame[1]!;
      start = 20;
      break;
    default:
      throw new Error(`pcap: link type ${linkType} is not supported`);
  }
  return etherType === 0x0800 || etherType === 0x86dd ? frame.subarray(start) : undefined;
}

/** The IP packets of a pcap file, in capture order, each a copy in a plain Uint8Array of its own. */
export function readIpPackets(path: string): Uint8Array[] {
  const { linkType, records } = parsePcap(readFileSync(path));
  const packets: Uint8Array[] = [];
  for (const { frame } of records) {
    const ip = ipPacketOf(linkType, frame);
    // A plain Uint8Array: Buffer#slice makes views, not copies, which would let a test change the capture.
    if (ip) packets.push(Uint8Array.from(ip));
  }
  return packets;
}
