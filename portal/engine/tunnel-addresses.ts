// ipaddr.js is CommonJS: its module.exports is the default import (allowSyntheticDefaultImports in tsconfig).
import ipaddr from 'ipaddr.js';
import type { TunnelAddresses } from '../../protocol/resources.js';

// DESIGN.md's tunnel ranges. TODO(protocol/ip.ts): import the shared defaults once that module lands on main.
const TUNNEL_IPV4 = ipaddr.IPv4.parse('100.64.0.0');
const TUNNEL_IPV4_SIZE = 2 ** (32 - 11);
const TUNNEL_IPV6 = ipaddr.IPv6.parse('fd00:2021:1111::');

/**
 * The n-th address pair of the tunnel ranges (100.64.0.0/11, fd00:2021:1111::/107). Devices and gateways draw n from
 * one database sequence, so addresses are unique and, stored with the device, stable. Undefined once the /11 is used
 * up (two million devices and gateways).
 */
export function tunnelAddresses(n: number): TunnelAddresses | undefined {
  if (!Number.isInteger(n) || n < 1 || n >= TUNNEL_IPV4_SIZE - 1) return undefined;
  const v4 = TUNNEL_IPV4.toByteArray();
  const v6 = TUNNEL_IPV6.toByteArray();
  addToBytes(v4, n);
  addToBytes(v6, n);
  return { ipv4: ipaddr.fromByteArray(v4).toString(), ipv6: ipaddr.fromByteArray(v6).toString() };
}

function addToBytes(bytes: number[], n: number): void {
  let carry = n;
  for (let i = bytes.length - 1; i >= 0 && carry > 0; i--) {
    const sum = (bytes[i] ?? 0) + (carry % 256);
    bytes[i] = sum % 256;
    carry = Math.floor(carry / 256) + Math.floor(sum / 256);
  }
}
