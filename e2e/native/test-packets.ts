import * as ipaddr from 'ipaddr.js';

/**
 * The few packets the TUN tests read and write, built and picked apart by hand: the project's packet library
 * (tunnel/packet) is written in parallel, and these tests must not depend on it. IPv6 extension headers are not
 * followed (ping and curl do not send them); such packets simply do not match.
 */

export interface PacketSummary {
  version: 4 | 6;
  src: string;
  dst: string;
  /** IPv4 protocol or IPv6 next header. */
  protocol: number;
  srcPort?: number;
  dstPort?: number;
  /** ICMP/ICMPv6 type. */
  icmpType?: number;
  /** TCP flags byte. */
  tcpFlags?: number;
  payload: Buffer;
}

export const ICMP = 1;
export const TCP = 6;
export const UDP = 17;
export const ICMPV6 = 58;
export const TCP_SYN = 0x02;

export function summarize(packet: Buffer): PacketSummary | undefined {
  const version = packet[0]! >> 4;
  let header: number;
  let summary: PacketSummary;
  if (version === 4 && packet.length >= 20) {
    header = (packet[0]! & 0x0f) * 4;
    summary = {
      version: 4,
      src: address(packet.subarray(12, 16)),
      dst: address(packet.subarray(16, 20)),
      protocol: packet[9]!,
      payload: packet.subarray(header),
    };
  } else if (version === 6 && packet.length >= 40) {
    header = 40;
    summary = {
      version: 6,
      src: address(packet.subarray(8, 24)),
      dst: address(packet.subarray(24, 40)),
      protocol: packet[6]!,
      payload: packet.subarray(header),
    };
  } else {
    return undefined;
  }
  const l4 = summary.payload;
  if ((summary.protocol === UDP || summary.protocol === TCP) && l4.length >= 4) {
    summary.srcPort = l4.readUInt16BE(0);
    summary.dstPort = l4.readUInt16BE(2);
    if (summary.protocol === TCP && l4.length >= 14) summary.tcpFlags = l4[13]!;
    if (summary.protocol === UDP) summary.payload = l4.subarray(8);
  }
  if ((summary.protocol === ICMP || summary.protocol === ICMPV6) && l4.length >= 1) summary.icmpType = l4[0]!;
  return summary;
}

/** The echo reply a peer would send for an IPv4 ICMP or ICMPv6 echo request, with correct checksums. */
export function echoReplyFor(request: Buffer): Buffer {
  const reply = Buffer.from(request);
  if (reply[0]! >> 4 === 4) {
    const header = (reply[0]! & 0x0f) * 4;
    swap(reply, 12, 16, 4);
    reply[header] = 0; // echo reply
    reply.writeUInt16BE(0, header + 2);
    reply.writeUInt16BE(checksum(reply.subarray(header)), header + 2);
    reply.writeUInt16BE(0, 10);
    reply.writeUInt16BE(checksum(reply.subarray(0, header)), 10);
    return reply;
  }
  swap(reply, 8, 24, 16);
  reply[40] = 129; // ICMPv6 echo reply
  reply.writeUInt16BE(0, 42);
  reply.writeUInt16BE(checksum(reply.subarray(40), pseudoHeader6(reply, ICMPV6)), 42);
  return reply;
}

/** An IPv4 UDP datagram; `corruptChecksum` flips the UDP checksum so the kernel must drop it. */
export function udp4(
  src: string,
  srcPort: number,
  dst: string,
  dstPort: number,
  payload: Buffer,
  corruptChecksum = false,
): Buffer {
  const packet = Buffer.alloc(28 + payload.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[8] = 64; // TTL
  packet[9] = UDP;
  packet.set(ipaddr.parse(src).toByteArray(), 12);
  packet.set(ipaddr.parse(dst).toByteArray(), 16);
  packet.writeUInt16BE(checksum(packet.subarray(0, 20)), 10);
  packet.writeUInt16BE(srcPort, 20);
  packet.writeUInt16BE(dstPort, 22);
  packet.writeUInt16BE(8 + payload.length, 24);
  payload.copy(packet, 28);
  const pseudo = Buffer.alloc(12);
  packet.copy(pseudo, 0, 12, 20);
  pseudo[9] = UDP;
  pseudo.writeUInt16BE(8 + payload.length, 10);
  const sum = checksum(packet.subarray(20), pseudo) || 0xffff; // 0 means "no checksum" in UDP
  packet.writeUInt16BE(corruptChecksum ? sum ^ 0x00ff : sum, 26);
  return packet;
}

function pseudoHeader6(packet: Buffer, nextHeader: number): Buffer {
  const pseudo = Buffer.alloc(40);
  packet.copy(pseudo, 0, 8, 40);
  pseudo.writeUInt32BE(packet.length - 40, 32);
  pseudo[39] = nextHeader;
  return pseudo;
}

/** The Internet checksum (RFC 1071) of `pseudo` followed by `data`. */
function checksum(data: Buffer, pseudo: Buffer = Buffer.alloc(0)): number {
  let sum = 0;
  for (const part of [pseudo, data]) {
    for (let i = 0; i < part.length; i += 2) sum += (part[i]! << 8) | (part[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function swap(buffer: Buffer, a: number, b: number, length: number): void {
  const first = Buffer.from(buffer.subarray(a, a + length));
  buffer.copy(buffer, a, b, b + length);
  first.copy(buffer, b);
}

function address(bytes: Buffer): string {
  return ipaddr.fromByteArray([...bytes]).toString();
}
