import { domainToASCII } from 'node:url';
import { formatCidr, formatIp, parseCidr, parseIp } from '../../protocol/ip.js';
import { fail, ok, type Parsed } from './result.js';

/** A resource address as the admin wrote it, classified. */
export type ClassifiedAddress = { type: 'dns'; address: string } | { type: 'cidr'; address: string };

/**
 * `nas.corp.test`, `*.corp.test` (any depth, apex too), `?.corp.test` (exactly one label) → DNS pattern, lower-cased,
 * IDN names in their ASCII (punycode) form, trailing dot removed; `10.0.0.0/8`, `2001:db8::/32` → CIDR;
 * `10.0.0.5` → `10.0.0.5/32`, `2001:db8::1` → `2001:db8::1/128`. Text of digits and dots is an address, never a name.
 */
export function classifyAddress(input: string): Parsed<ClassifiedAddress> {
  const text = input.trim();
  if (text.includes('/') || text.includes(':') || /^[\d.]+$/.test(text)) {
    const range = parseCidr(text, { allowBareAddress: true });
    return range.ok ? ok({ type: 'cidr', address: formatCidr(range.value) }) : fail(range.error);
  }
  const pattern = parseDnsPattern(text);
  return pattern.ok ? ok({ type: 'dns', address: pattern.value }) : pattern;
}

/** An IP address in canonical text form; undefined for anything else. */
export function canonicalIp(text: string): string | undefined {
  const address = parseIp(text);
  return address.ok ? formatIp(address.value) : undefined;
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
