import { cidrSize, formatIp, nthAddress, TUNNEL_IPV4_RANGE, TUNNEL_IPV6_RANGE } from '../../protocol/ip.js';
import type { TunnelAddresses } from '../../protocol/resources.js';

/**
 * The n-th address pair of the tunnel ranges (100.64.0.0/11, fd00:2021:1111::/107). Devices and gateways draw n from
 * one database sequence, so addresses are unique and, stored with the device, stable. Undefined once the /11 is used
 * up (two million devices and gateways); n = 0 (the network address) and the last address are never handed out.
 */
export function tunnelAddresses(n: number): TunnelAddresses | undefined {
  if (!Number.isInteger(n) || n < 1 || BigInt(n) >= cidrSize(TUNNEL_IPV4_RANGE) - 1n) return undefined;
  return { ipv4: formatIp(nthAddress(TUNNEL_IPV4_RANGE, n)), ipv6: formatIp(nthAddress(TUNNEL_IPV6_RANGE, n)) };
}
