import { describe, expect, it } from 'vitest';
import { DnsType, Rcode, rcodeName, typeName } from './constants.js';

describe('names for logs', () => {
  it('names known types and rcodes, and writes the others as RFC 3597 does', () => {
    expect(typeName(DnsType.HTTPS)).toBe('HTTPS');
    expect(typeName(DnsType.AAAA)).toBe('AAAA');
    expect(typeName(999)).toBe('TYPE999');
    expect(rcodeName(Rcode.NXDOMAIN)).toBe('NXDOMAIN');
    expect(rcodeName(Rcode.BADVERS)).toBe('BADVERS');
    expect(rcodeName(23)).toBe('RCODE23');
  });
});
