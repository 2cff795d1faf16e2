/** Hand-built packets for the captures (tunnel/packet's builders were not on main when this was written). */

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 ICMP echo request from `source` to `destination` with 16 bytes of 0xab payload. */
export function icmpEchoRequest(source: string, destination: string, id: number, sequence: number): Buffer {
  const packet = Buffer.alloc(20 + 8 + 16);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[8] = 64;
  packet[9] = 1;
  Buffer.from(source.split('.').map(Number)).copy(packet, 12);
  Buffer.from(destination.split('.').map(Number)).copy(packet, 16);
  packet.writeUInt16BE(checksum(packet.subarray(0, 20)), 10);
  packet[20] = 8;
  packet.writeUInt16BE(id, 24);
  packet.writeUInt16BE(sequence, 26);
  packet.fill(0xab, 28);
  packet.writeUInt16BE(checksum(packet.subarray(20)), 22);
  return packet;
}
