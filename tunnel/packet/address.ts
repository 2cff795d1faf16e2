import { formatIp, ipFromBytes, ipToBytes, ipv4, ipv6, parseIp, type IpAddress } from '../../protocol/ip.js';
import { read16, read32 } from './bytes.js';

/**
 * Addresses as Map keys, and between keys, bytes, text and protocol/ip's `IpAddress`.
 *
 * Keys (the hot path): an IPv4 address is its unsigned 32-bit number — the same value as protocol/ip's `Ipv4` — and
 * an IPv6 address is a string of 8 UTF-16 code units, one per 16-bit word. Both compare by value in a `Map`, and a
 * string key composes cheaply with more fields (`String.fromCharCode(port) + key`).
 *
 * Why not protocol/ip's `Ipv6` bigint as the key: made from a packet's bytes, a bigint takes several BigInt
 * allocations. Measured on this machine (Node 20, 64 Ki keys in a Map, keys read from 4096 separate packet buffers;
 * key + lookup): IPv4 number 27–100 ns, IPv6 8-char string 78–320 ns, IPv6 bigint from four 32-bit reads 640–830 ns,
 * bigint through a DataView per packet 570–770 ns (the ranges are a quiet and a busy machine). Tables that hold
 * protocol/ip addresses (mapped IPs, resolved IPs) convert once with `ipToKey` / `keyToIp`, not per packet.
 *
 * Text (logs, tests, configuration; never per packet) goes through protocol/ip (`parseIp`, `formatIp`).
 */

/** A compact, Map-friendly address: number for IPv4, 8-character string for IPv6. */
export type AddressKey = number | string;

/** The IPv4 address at `buf[offset]` as an unsigned 32-bit number (its key). */
export function ipv4Key(buf: Uint8Array, offset = 0): number {
  return read32(buf, offset);
}

/** The IPv6 address at `buf[offset]` as an 8-character string (its key). */
export function ipv6Key(buf: Uint8Array, offset = 0): string {
  return String.fromCharCode(
    read16(buf, offset),
    read16(buf, offset + 2),
    read16(buf, offset + 4),
    read16(buf, offset + 6),
    read16(buf, offset + 8),
    read16(buf, offset + 10),
    read16(buf, offset + 12),
    read16(buf, offset + 14),
  );
}

/** The key of a 4- or 16-byte address. */
export function addressKey(address: Uint8Array): AddressKey {
  return address.length === 4 ? ipv4Key(address) : ipv6Key(address);
}

/** The key of a protocol/ip address. */
export function ipToKey(address: IpAddress): AddressKey {
  if (typeof address === 'number') return address;
  const words: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) words.push(Number((address >> shift) & 0xffffn));
  return String.fromCharCode(...words);
}

/** The protocol/ip address of a key. */
export function keyToIp(key: AddressKey): IpAddress {
  if (typeof key === 'number') return ipv4(key);
  let value = 0n;
  for (let i = 0; i < 8; i++) value = (value << 16n) | BigInt(key.charCodeAt(i));
  return ipv6(value);
}

/** The address bytes (4 or 16) of a key. */
export function keyToBytes(key: AddressKey): Uint8Array {
  return ipToBytes(keyToIp(key));
}

/** Text of a key, e.g. `10.0.0.1` or `fd00::1`. */
export function keyToString(key: AddressKey): string {
  return formatIp(keyToIp(key));
}

/** Text of the 4- or 16-byte address at `buf[offset]` (IPv6 in RFC 5952 form). */
export function addressToString(
  buf: Uint8Array,
  offset = 0,
  length: 4 | 16 = buf.length - offset === 4 ? 4 : 16,
): string {
  return formatIp(ipFromBytes(buf.subarray(offset, offset + length)));
}

/** The bytes of an address in text (`10.0.0.1` → 4 bytes, `fd00::1` → 16), or undefined if it is not one. */
export function parseAddress(text: string): Uint8Array | undefined {
  const parsed = parseIp(text);
  return parsed.ok ? ipToBytes(parsed.value) : undefined;
}
