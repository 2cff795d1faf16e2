import { domainToASCII } from 'node:url';
// ipaddr.js is CommonJS: its module.exports is the default import (allowSyntheticDefaultImports in tsconfig).
import ipaddr from 'ipaddr.js';
import { fail, ok, type Parsed } from './result.js';

/** A resource address as the admin wrote it, classified. */
export type ClassifiedAddress = { type: 'dns'; address: string } | { type: 'cidr'; address: string };

/**
 * `nas.corp.test`, `*.corp.test` (any depth, apex too), `?.corp.test` (exactly one label) → DNS pattern, lower-cased,
 * IDN names in their ASCII (punycode) form, trailing dot removed; `10.0.0.0/8`, `2001:db8::/32` → CIDR;
 * `10.0.0.5` → `10.0.0.5/32`, `2001:db8::1` → `2001:db8::1/128`.
 */
export function classifyAddress(input: string): Parsed<ClassifiedAddress> {
  const text = input.trim();
  if (text.includes('/')) return parseCidr(text);
  const ip = canonicalIp(text);
  if (ip !== undefined) return ok({ type: 'cidr', address: `${ip}/${ip.includes(':') ? 128 : 32}` });
  const pattern = parseDnsPattern(text);
  return pattern.ok ? ok({ type: 'dns', address: pattern.value }) : pattern;
}

function parseCidr(text: string): Parsed<ClassifiedAddress> {
  const [ipText = '', bitsText = ''] = text.split('/');
  if (canonicalIp(ipText) === undefined || !/^\d{1,3}$/.test(bitsText) || !ipaddr.isValidCIDR(text)) {
    return fail(`"${text}" is not a valid CIDR range`);
  }
  const [ip, bits] = ipaddr.parseCIDR(text);
  const network = ipaddr.IPv4.isValid(ip.toString())
    ? ipaddr.IPv4.networkAddressFromCIDR(text)
    : ipaddr.IPv6.networkAddressFromCIDR(text);
  if (network.toString() !== ip.toString()) {
    return fail(`"${text}" has host bits set; the range is ${network.toString()}/${bits}`);
  }
  return ok({ type: 'cidr', address: `${network.toString()}/${bits}` });
}

/** Dotted-decimal IPv4 or any IPv6 text, in canonical form; undefined for anything else (`1`, `0x7f.1`). */
export function canonicalIp(text: string): string | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text).toString();
  if (ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text).toString();
  return undefined;
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** A DNS name or a `*.`/`?.` wildcard over one, in the canonical form clients match against. */
export function parseDnsPattern(input: string): Parsed<string> {
  const text = input.trim().replace(/\.$/, '');
  const wildcard = text.startsWith('*.') || text.startsWith('?.') ? text.slice(0, 2) : '';
  const name = text.slice(wildcard.length);
  if (name === '') return fail(`"${input}" is not a DNS name`);
  if (name.includes('*') || name.includes('?')) {
    return fail(`"${input}": a wildcard is allowed only as the first label ("*." or "?.")`);
  }
  const ascii = domainToASCII(name);
  if (ascii === '') return fail(`"${input}" is not a valid DNS name`);
  const bad = ascii.split('.').find((label) => !LABEL.test(label));
  if (bad !== undefined) return fail(`"${input}" is not a valid DNS name (label "${bad}")`);
  const pattern = wildcard + ascii;
  if (pattern.length > 253) return fail(`"${input}" is longer than 253 characters`);
  return ok(pattern);
}
