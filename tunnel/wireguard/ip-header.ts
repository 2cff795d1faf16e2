/** Just enough of IPv4/IPv6 headers for WireGuard: version, minimal length, and the length the header declares. */

/** Whether `packet` starts like an IPv4 or IPv6 packet with a complete fixed header. */
export function isIpPacket(packet: Uint8Array): boolean {
  const version = packet.length > 0 ? packet[0]! >> 4 : 0;
  return (version === 4 && packet.length >= 20) || (version === 6 && packet.length >= 40);
}

/**
 * The length an IP packet's header declares (IPv4 total length, IPv6 40 + payload length), or undefined when the
 * packet is not IP or is shorter than it claims. Decrypted packets carry zero padding after this length.
 */
export function declaredLength(packet: Uint8Array): number | undefined {
  if (!isIpPacket(packet)) return undefined;
  const length = packet[0]! >> 4 === 4 ? (packet[2]! << 8) | packet[3]! : 40 + ((packet[4]! << 8) | packet[5]!);
  if (length > packet.length || length < (packet[0]! >> 4 === 4 ? 20 : 40)) return undefined;
  return length;
}
