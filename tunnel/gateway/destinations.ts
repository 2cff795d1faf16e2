import {
  TUNNEL_IPV4_RANGE,
  TUNNEL_IPV6_RANGE,
  cidr,
  cidrContains,
  ipFromBytes,
  parseCidr,
  type Cidr,
} from '../../protocol/ip.js';
import type { Resource } from '../../protocol/resources.js';

/** Addresses as packets carry them: 4 or 16 bytes. */
export type IpBytes = Uint8Array;

/**
 * Never a destination on a client's behalf, whatever its resources say: the tunnel ranges (other clients, the
 * gateway), and the gateway host itself or its link (unspecified, loopback, link-local, multicast, reserved,
 * broadcast). A resource that resolves to or covers one of these reaches nothing there.
 */
const NEVER_FORWARDED: readonly Cidr[] = [
  TUNNEL_IPV4_RANGE,
  TUNNEL_IPV6_RANGE,
  ...['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4'].map((t) => cidr(t)),
  ...['::/128', '::1/128', 'fe80::/10', 'ff00::/8'].map((t) => cidr(t)),
];

export function isForwardableDestination(addr: IpBytes): boolean {
  const address = ipFromBytes(addr);
  return !NEVER_FORWARDED.some((range) => cidrContains(range, address));
}

export function rangeContains(range: Cidr, addr: IpBytes): boolean {
  return cidrContains(range, ipFromBytes(addr));
}

const resourceRanges = new WeakMap<Resource, Cidr | undefined>();

/** The range of a CIDR resource (a bare address is a host route), parsed once per resource definition. */
export function resourceRange(resource: Resource): Cidr | undefined {
  if (resource.type !== 'cidr') return undefined;
  if (!resourceRanges.has(resource)) {
    const parsed = parseCidr(resource.address, { allowBareAddress: true, allowHostBits: true });
    resourceRanges.set(resource, parsed.ok ? parsed.value : undefined);
  }
  return resourceRanges.get(resource);
}

export function sameIp(a: IpBytes, b: IpBytes): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
