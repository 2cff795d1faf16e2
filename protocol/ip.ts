import ipaddr from 'ipaddr.js';
import { z } from 'zod';

/**
 * IPv4/IPv6 addresses and CIDR ranges for every part of Postern: the portal validates config with it, the client
 * allocates mapped IPs from ranges, the gateway keys NAT tables by address.
 *
 * Representation: an address is a branded primitive, an IPv4 address a `number` (0 … 2³²−1) and an IPv6 address a
 * `bigint` (0 … 2¹²⁸−1). `typeof` tells the family; addresses compare with `===`, sort with `<` and work as `Map`
 * keys without turning them into strings.
 *
 * Errors, per function:
 * - Text parsers (`parseIp`, `parseCidr`) never throw: they return an `IpResult` whose `error` quotes the offending
 *   text and says what is wrong, ready for a config error with file and line (`IpText`/`CidrText` wrap them as zod
 *   schemas).
 * - `ip()` and `cidr()` throw that same message as an `Error`: for constants, tests and already-validated text.
 * - Arithmetic that leaves the address space or a range, and bytes of the wrong length, throw `RangeError`: that is a
 *   bug in the caller, not bad input.
 */

// Declared before the address-plan constants at the end, which are computed at module load.
const IPV4_MAX = 0xffff_ffff;
const IPV6_MAX = (1n << 128n) - 1n;

declare const ipv4Brand: unique symbol;
declare const ipv6Brand: unique symbol;
/** An IPv4 address as an unsigned 32-bit integer. */
export type Ipv4 = number & { readonly [ipv4Brand]: true };
/** An IPv6 address as an unsigned 128-bit bigint. */
export type Ipv6 = bigint & { readonly [ipv6Brand]: true };
export type IpAddress = Ipv4 | Ipv6;
export type IpFamily = 4 | 6;

/** A range: its network address (host bits zero) and prefix length. */
export type Cidr = Ipv4Cidr | Ipv6Cidr;
export interface Ipv4Cidr {
  readonly family: 4;
  readonly network: Ipv4;
  readonly prefix: number;
}
export interface Ipv6Cidr {
  readonly family: 6;
  readonly network: Ipv6;
  readonly prefix: number;
}

export type IpResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export interface CidrParseOptions {
  /** Accept `10.0.0.1/24` and return `10.0.0.0/24` (default: reject, naming the network the text probably meant). */
  allowHostBits?: boolean;
  /** Accept a bare address as a /32 or /128 (default: reject, the prefix length is required). */
  allowBareAddress?: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing and formatting text

/** Parses `10.0.0.1` (four decimal numbers, no leading zeros) or an IPv6 address (no zone index). */
export function parseIp(text: string): IpResult<IpAddress> {
  const why = text.includes(':') ? ipv6Problem(text) : ipv4Problem(text);
  if (why) return { ok: false, error: `invalid IP address "${text}": ${why}` };
  return { ok: true, value: text.includes(':') ? parseIpv6Unchecked(text) : parseIpv4Unchecked(text) };
}

/** Parses `address/prefix`, e.g. `100.96.0.0/11` or `fd00:2021:1111:8000::/107`. */
export function parseCidr(text: string, options: CidrParseOptions = {}): IpResult<Cidr> {
  const slash = text.indexOf('/');
  const fail = (why: string): IpResult<Cidr> => ({ ok: false, error: `invalid CIDR range "${text}": ${why}` });
  if (slash < 0 && !options.allowBareAddress) return fail('the prefix length is missing (like /24 or /64)');
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!address.ok) return fail(address.error.replace(/^invalid IP address /, 'the address '));
  const family = ipFamily(address.value);
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
      return fail(`the prefix length must be a number from 0 to ${bits} for IPv${family}`);
    }
    prefix = Number(prefixText);
  }
  const range = makeCidr(address.value, prefix);
  if (range.network !== address.value && !options.allowHostBits) {
    return fail(`host bits are set; the range is ${formatCidr(range)}`);
  }
  return { ok: true, value: range };
}

/** `parseIp` that throws its error message; for constants, tests and text validated before. */
export function ip(text: string): IpAddress {
  return unwrap(parseIp(text));
}

/** `parseCidr` (strict) that throws its error message; for constants, tests and text validated before. */
export function cidr(text: string): Cidr {
  return unwrap(parseCidr(text));
}

/** Dotted decimal for IPv4, RFC 5952 (lower case, longest zero run as `::`) for IPv6. */
export function formatIp(address: IpAddress): string {
  if (typeof address === 'number') {
    return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
  }
  const parts: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) parts.push(Number((address >> shift) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

export function formatCidr(range: Cidr): string {
  return `${formatIp(range.network)}/${range.prefix}`;
}

/** Zod schema for a wire or config string that must be an IP address; the issue carries `parseIp`'s message. */
export const IpText = z.string().superRefine((text, ctx) => {
  const result = parseIp(text);
  if (!result.ok) ctx.addIssue({ code: 'custom', message: result.error });
});

/** Zod schema for a string that must be a CIDR range with host bits zero; the issue carries `parseCidr`'s message. */
export const CidrText = z.string().superRefine((text, ctx) => {
  const result = parseCidr(text);
  if (!result.ok) ctx.addIssue({ code: 'custom', message: result.error });
});

// ---------------------------------------------------------------------------------------------------------------
// Numbers and bytes

/** An IPv4 address from its 32-bit value; throws RangeError outside 0 … 2³²−1. */
export function ipv4(value: number): Ipv4 {
  if (!Number.isInteger(value) || value < 0 || value > IPV4_MAX) throw new RangeError(`not an IPv4 value: ${value}`);
  return value as Ipv4;
}

/** An IPv6 address from its 128-bit value; throws RangeError outside 0 … 2¹²⁸−1. */
export function ipv6(value: bigint): Ipv6 {
  if (value < 0n || value > IPV6_MAX) throw new RangeError(`not an IPv6 value: ${value}`);
  return value as Ipv6;
}

export function ipFamily(address: IpAddress): IpFamily {
  return typeof address === 'number' ? 4 : 6;
}

export function isIpv4(address: IpAddress): address is Ipv4 {
  return typeof address === 'number';
}

export function isIpv6(address: IpAddress): address is Ipv6 {
  return typeof address === 'bigint';
}

/** The address in network byte order: 4 or 16 bytes. */
export function ipToBytes(address: IpAddress): Uint8Array {
  const bytes = new Uint8Array(typeof address === 'number' ? 4 : 16);
  writeIp(address, bytes, 0);
  return bytes;
}

/** Writes the address in network byte order at `offset` (4 or 16 bytes); for building packets without copies. */
export function writeIp(address: IpAddress, out: Uint8Array, offset: number): void {
  if (typeof address === 'number') {
    out[offset] = address >>> 24;
    out[offset + 1] = address >>> 16;
    out[offset + 2] = address >>> 8;
    out[offset + 3] = address;
    return;
  }
  for (let i = 15; i >= 0; i--) out[offset + 15 - i] = Number((address >> BigInt(i * 8)) & 0xffn);
}

/** An address from exactly 4 (IPv4) or 16 (IPv6) bytes; throws RangeError for any other length. */
export function ipFromBytes(bytes: Uint8Array): IpAddress {
  if (bytes.length === 4) return readIpv4(bytes, 0);
  if (bytes.length === 16) return readIpv6(bytes, 0);
  throw new RangeError(`an IP address is 4 or 16 bytes, not ${bytes.length}`);
}

/** Reads 4 bytes at `offset` as an IPv4 address; throws RangeError when they are not all there. */
export function readIpv4(bytes: Uint8Array, offset: number): Ipv4 {
  checkBounds(bytes, offset, 4);
  return (((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>>
    0) as Ipv4;
}

/** Reads 16 bytes at `offset` as an IPv6 address; throws RangeError when they are not all there. */
export function readIpv6(bytes: Uint8Array, offset: number): Ipv6 {
  checkBounds(bytes, offset, 16);
  let value = 0n;
  for (let i = 0; i < 16; i += 4) value = (value << 32n) | BigInt(readIpv4(bytes, offset + i));
  return value as Ipv6;
}

// ---------------------------------------------------------------------------------------------------------------
// Arithmetic and ranges

/** Orders IPv4 before IPv6, then by value; for `Array.prototype.sort`. */
export function compareIp(a: IpAddress, b: IpAddress): number {
  if (typeof a !== typeof b) return typeof a === 'number' ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `address + offset` (offset may be negative); throws RangeError when the result leaves the family's space. */
export function ipAdd(address: IpAddress, offset: number | bigint): IpAddress {
  const sum = BigInt(address) + BigInt(offset);
  if (typeof address === 'number') {
    if (sum < 0n || sum > BigInt(IPV4_MAX)) throw new RangeError(`${formatIp(address)} + ${offset} is not IPv4`);
    return Number(sum) as Ipv4;
  }
  if (sum < 0n || sum > IPV6_MAX) throw new RangeError(`${formatIp(address)} + ${offset} is not IPv6`);
  return sum as Ipv6;
}

/** The range of `prefix` bits containing `address` (host bits cleared); throws RangeError for a bad prefix. */
export function makeCidr(address: IpAddress, prefix: number): Cidr {
  const bits = typeof address === 'number' ? 32 : 128;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    throw new RangeError(`prefix length ${prefix} is not 0…${bits}`);
  }
  if (typeof address === 'number') {
    return { family: 4, network: (address & ipv4Mask(prefix)) >>> 0, prefix } as Ipv4Cidr;
  }
  return { family: 6, network: address & ipv6Mask(prefix), prefix } as Ipv6Cidr;
}

/** How many addresses the range holds (2^(bits − prefix)). */
export function cidrSize(range: Cidr): bigint {
  return 1n << BigInt((range.family === 4 ? 32 : 128) - range.prefix);
}

/** The `n`-th address of the range (0 is the network address); throws RangeError unless 0 ≤ n < size. */
export function nthAddress(range: Ipv4Cidr, n: number | bigint): Ipv4;
export function nthAddress(range: Ipv6Cidr, n: number | bigint): Ipv6;
export function nthAddress(range: Cidr, n: number | bigint): IpAddress;
export function nthAddress(range: Cidr, n: number | bigint): IpAddress {
  const index = BigInt(n);
  if (index < 0n || index >= cidrSize(range)) {
    throw new RangeError(`address #${n} is outside ${formatCidr(range)} (${cidrSize(range)} addresses)`);
  }
  return ipAdd(range.network, index);
}

/** The last address of the range (IPv4's broadcast address). */
export function lastAddress(range: Cidr): IpAddress {
  return nthAddress(range, cidrSize(range) - 1n);
}

/** Where `address` sits in the range (inverse of `nthAddress`), or undefined when it is outside. */
export function offsetInCidr(range: Cidr, address: IpAddress): bigint | undefined {
  if (!cidrContains(range, address)) return undefined;
  return BigInt(address) - BigInt(range.network);
}

/** Whether the range contains the address; false for the other family. */
export function cidrContains(range: Cidr, address: IpAddress): boolean {
  if (range.family === 4)
    return typeof address === 'number' && (address & ipv4Mask(range.prefix)) >>> 0 === range.network;
  return typeof address === 'bigint' && (address & ipv6Mask(range.prefix)) === range.network;
}

/** Whether `inner` lies entirely inside `outer` (a range contains itself). */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.network);
}

/** Whether the two ranges share any address. Two CIDR ranges overlap only when one contains the other. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContainsCidr(a, b) || cidrContainsCidr(b, a);
}

// ---------------------------------------------------------------------------------------------------------------
// Reverse DNS

/** The PTR name of an address: `4.3.2.1.in-addr.arpa`, or 32 nibbles then `ip6.arpa`; lower case, no final dot. */
export function reverseName(address: IpAddress): string {
  if (typeof address === 'number') {
    return `${address & 0xff}.${(address >>> 8) & 0xff}.${(address >>> 16) & 0xff}.${address >>> 24}.in-addr.arpa`;
  }
  const nibbles: string[] = [];
  for (let i = 0n; i < 128n; i += 4n) nibbles.push(((address >> i) & 0xfn).toString(16));
  return `${nibbles.join('.')}.ip6.arpa`;
}

/**
 * The address a PTR name stands for, or undefined when the name is not the reverse name of one whole address
 * (a shorter name like `10.in-addr.arpa` names a zone, not an address). Case-insensitive; one final dot allowed.
 */
export function ipFromReverseName(name: string): IpAddress | undefined {
  const lower = name.toLowerCase().replace(/\.$/, '');
  if (lower.endsWith('.in-addr.arpa')) {
    const labels = lower.slice(0, -'.in-addr.arpa'.length).split('.');
    if (labels.length !== 4 || !labels.every((l) => /^(0|[1-9][0-9]{0,2})$/.test(l) && Number(l) <= 255)) {
      return undefined;
    }
    return labels.reduceRight((value, label) => value * 256 + Number(label), 0) as Ipv4;
  }
  if (lower.endsWith('.ip6.arpa')) {
    const labels = lower.slice(0, -'.ip6.arpa'.length).split('.');
    if (labels.length !== 32 || !labels.every((l) => /^[0-9a-f]$/.test(l))) return undefined;
    return BigInt(`0x${labels.reverse().join('')}`) as Ipv6;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Postern's address plan (DESIGN.md "Addresses and constants")

/** Client and gateway tunnel addresses, assigned by the portal. */
export const TUNNEL_IPV4_RANGE = constantRange('100.64.0.0/11', 4);
export const TUNNEL_IPV6_RANGE = constantRange('fd00:2021:1111::/107', 6);

/**
 * Default ranges of mapped (proxy) IPs that DNS resources resolve to on the client; configurable. Note that the
 * IPv4 sentinel range lies inside the default IPv4 mapped range (as in Firezone): an allocator must skip it.
 */
export const DEFAULT_MAPPED_IPV4_RANGE = constantRange('100.96.0.0/11', 4);
export const DEFAULT_MAPPED_IPV6_RANGE = constantRange('fd00:2021:1111:8000::/107', 6);

/** DNS sentinels: one address per upstream resolver, routed into the TUN. */
export const SENTINEL_IPV4_RANGE = constantRange('100.100.111.0/24', 4);
export const SENTINEL_IPV6_RANGE = constantRange('fd00:2021:1111:8000:100:100:111:0/120', 6);

// ---------------------------------------------------------------------------------------------------------------

function ipv4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (IPV4_MAX << (32 - prefix)) >>> 0;
}

function ipv6Mask(prefix: number): bigint {
  return IPV6_MAX ^ ((1n << BigInt(128 - prefix)) - 1n);
}

function ipv4Problem(text: string): string | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return 'an IPv4 address is four numbers separated by dots';
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part)) return `"${part}" is not a decimal number from 0 to 255`;
    if (part.length > 1 && part.startsWith('0')) return `"${part}" has a leading zero (ambiguous: octal or decimal?)`;
    if (Number(part) > 255) return `${part} is more than 255`;
  }
  return undefined;
}

function ipv6Problem(text: string): string | undefined {
  if (text.includes('%')) return 'a zone index (%…) is not allowed here';
  // ipaddr.js accepts hex and octal parts in an embedded IPv4 address; require the same dotted decimal as IPv4.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.') && ipv4Problem(text.slice(lastColon + 1))) {
    return `the embedded IPv4 address: ${ipv4Problem(text.slice(lastColon + 1))}`;
  }
  if (!ipaddr.IPv6.isValid(text)) return 'not a valid IPv6 address';
  return undefined;
}

function parseIpv4Unchecked(text: string): Ipv4 {
  return text.split('.').reduce((value, part) => value * 256 + Number(part), 0) as Ipv4;
}

function parseIpv6Unchecked(text: string): Ipv6 {
  return ipaddr.IPv6.parse(text).parts.reduce((value, part) => (value << 16n) | BigInt(part), 0n) as Ipv6;
}

function unwrap<T>(result: IpResult<T>): T {
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

function checkBounds(bytes: Uint8Array, offset: number, length: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + length > bytes.length) {
    throw new RangeError(`${length} address bytes at offset ${offset} do not fit in ${bytes.length} bytes`);
  }
}

function constantRange(text: string, family: 4): Ipv4Cidr;
function constantRange(text: string, family: 6): Ipv6Cidr;
function constantRange(text: string, family: IpFamily): Cidr {
  const range = cidr(text);
  if (range.family !== family) throw new Error(`${text} is not IPv${family}`);
  return range;
}
