import ipaddr from 'ipaddr.js';

/**
 * Addresses as the gateway handles them: 4 or 16 raw bytes (what packets carry), with a cheap string key for maps.
 */
export type IpBytes = Uint8Array;

/** Parses an IPv4 or IPv6 address; undefined when it is neither. */
export function parseIp(text: string): IpBytes | undefined {
  if (!ipaddr.isValid(text)) return undefined;
  const addr = ipaddr.parse(text);
  // IPv4-mapped IPv6 (`::ffff:a.b.c.d`) stays IPv6: packets carry it as 16 bytes too.
  return Uint8Array.from(addr.toByteArray());
}

/** Human form (RFC 5952 for IPv6), for logs and messages. */
export function formatIp(bytes: IpBytes): string {
  return ipaddr.fromByteArray(Array.from(bytes)).toString();
}

/** A map key for an address: cheap to build from packet bytes on every packet (no parsing, no compression). */
export function ipKey(bytes: IpBytes): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  let key = '';
  for (let i = 0; i < 16; i += 2) key += ((bytes[i]! << 8) | bytes[i + 1]!).toString(16) + (i < 14 ? ':' : '');
  return key;
}

export interface Cidr {
  readonly network: IpBytes;
  readonly prefix: number;
}

/** Parses `a.b.c.d/n` or `x::y/n` (a bare address is a host route); undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const network = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!network) return undefined;
  const max = network.length * 8;
  const prefix = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { network, prefix };
}

export function cidrContains(cidr: Cidr, addr: IpBytes): boolean {
  if (cidr.network.length !== addr.length) return false;
  const full = cidr.prefix >> 3;
  for (let i = 0; i < full; i++) if (cidr.network[i] !== addr[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (cidr.network[full]! & mask) === (addr[full]! & mask);
}

export function sameIp(a: IpBytes, b: IpBytes): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The client/gateway tunnel ranges (DESIGN.md "Addresses"): never a destination a client may reach. */
export const TUNNEL_RANGES: readonly Cidr[] = [parseCidr('100.64.0.0/11')!, parseCidr('fd00:2021:1111::/107')!];

/**
 * Whether traffic may ever be sent to `addr` on a client's behalf, whatever its resources say: never into the tunnel
 * ranges (another client), nor loopback, unspecified, multicast, broadcast or link-local addresses (the gateway host
 * itself or its segment).
 */
export function isForwardableDestination(addr: IpBytes): boolean {
  if (TUNNEL_RANGES.some((range) => cidrContains(range, addr))) return false;
  const range = ipaddr.fromByteArray(Array.from(addr)).range();
  return !['unspecified', 'loopback', 'multicast', 'broadcast', 'linkLocal'].includes(range);
}
