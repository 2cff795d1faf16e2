import { describe, expect, it } from 'vitest';
import {
  cidr,
  cidrContains,
  DEFAULT_MAPPED_IPV4_RANGE,
  DEFAULT_MAPPED_IPV6_RANGE,
  formatIp,
  ip,
  ipToBytes,
  SENTINEL_IPV4_RANGE,
  SENTINEL_IPV6_RANGE,
  type Ipv4Cidr,
  type Ipv6Cidr,
} from '../../protocol/ip.js';
import { MappedIpAllocator } from './mapped-ips.js';

const DEFAULTS = { ipv4: DEFAULT_MAPPED_IPV4_RANGE, ipv6: DEFAULT_MAPPED_IPV6_RANGE };
const SENTINELS = [SENTINEL_IPV4_RANGE, SENTINEL_IPV6_RANGE];

function assign(allocator: MappedIpAllocator, domain: string) {
  const result = allocator.assign(domain, 0);
  if (!result.ok) throw new Error(result.message);
  return result.mapping;
}

describe('MappedIpAllocator', () => {
  it('gives each domain 4 + 4 consecutive addresses of an aligned block, skipping the network address', () => {
    const allocator = new MappedIpAllocator(DEFAULTS, { reserved: SENTINELS });
    const first = assign(allocator, 'a.test');
    expect(first.ipv4.map(formatIp)).toEqual(['100.96.0.4', '100.96.0.5', '100.96.0.6', '100.96.0.7']);
    expect(first.ipv6.map(formatIp)).toEqual([
      'fd00:2021:1111:8000::4',
      'fd00:2021:1111:8000::5',
      'fd00:2021:1111:8000::6',
      'fd00:2021:1111:8000::7',
    ]);
    expect(assign(allocator, 'b.test').ipv4.map(formatIp)[0]).toBe('100.96.0.8');
  });

  it('is stable per domain and never gives an address to two domains', () => {
    const allocator = new MappedIpAllocator(DEFAULTS);
    const first = assign(allocator, 'a.test');
    expect(allocator.assign('a.test', 5)).toMatchObject({ ok: true, created: false, mapping: first });
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const mapping = assign(allocator, `d${i}.test`);
      for (const address of [...mapping.ipv4, ...mapping.ipv6]) seen.add(formatIp(address));
    }
    expect(seen.size).toBe(5000 * 8);
  });

  it('finds the domain of an address (for PTR and packets), in both forms', () => {
    const allocator = new MappedIpAllocator(DEFAULTS);
    assign(allocator, 'a.test');
    const b = assign(allocator, 'b.test');
    for (const address of [...b.ipv4, ...b.ipv6]) {
      expect(allocator.mappingOf(address)?.domain).toBe('b.test');
      const bytes = ipToBytes(address);
      const buffer = new Uint8Array(bytes.length + 7);
      buffer.set(bytes, 7);
      expect(allocator.mappingAt(buffer, 7, bytes.length as 4 | 16)?.domain).toBe('b.test');
    }
    for (const text of [
      '100.96.0.0',
      '100.96.0.16',
      '100.95.255.255',
      '100.128.0.0',
      'fd00:2021:1111:8000::10',
      'fd00::4',
    ]) {
      const address = ip(text);
      expect(allocator.mappingOf(address)).toBeUndefined();
      const bytes = ipToBytes(address);
      expect(allocator.mappingAt(bytes, 0, bytes.length as 4 | 16)).toBeUndefined();
    }
    expect(allocator.inRanges(ip('100.127.255.255'))).toBe(true);
    expect(allocator.inRanges(ip('100.128.0.0'))).toBe(false);
  });

  it('never hands out the sentinel range inside the default IPv4 range', () => {
    const allocator = new MappedIpAllocator(DEFAULTS, { reserved: SENTINELS, maxDomains: 80_000 });
    let inSentinels = 0;
    for (let i = 0; i < 80_000; i++) {
      for (const address of assign(allocator, `d${i}.test`).ipv4) {
        if (cidrContains(SENTINEL_IPV4_RANGE, address)) inSentinels++;
      }
    }
    expect(inSentinels).toBe(0);
    // The blocks around the sentinels were skipped: 64 blocks of 4 are the /24.
    expect(formatIp(allocator.get('d72638.test')!.ipv4[0]!)).toBe('100.100.110.252');
    expect(formatIp(allocator.get('d72639.test')!.ipv4[0]!)).toBe('100.100.112.0');
  });

  it('takes configurable ranges and reports exhaustion clearly, keeping existing mappings', () => {
    const small = { ipv4: cidr('10.99.0.0/27') as Ipv4Cidr, ipv6: cidr('fd99::/120') as Ipv6Cidr };
    const allocator = new MappedIpAllocator(small);
    // 32 addresses = 8 blocks; block 0 and the last are kept free: 6 domains.
    expect(allocator.capacity).toBe(6);
    for (let i = 0; i < 6; i++) assign(allocator, `d${i}.test`);
    expect(formatIp(allocator.get('d5.test')!.ipv4[3]!)).toBe('10.99.0.27');
    const refused = allocator.assign('late.test', 0);
    expect(refused).toMatchObject({ ok: false, error: 'exhausted' });
    expect(!refused.ok && refused.message).toContain('10.99.0.0/27 and fd99::/120 are used up');
    expect(allocator.assign('d0.test', 0).ok).toBe(true);
    expect(allocator.size).toBe(6);
  });

  it('stops at maxDomains', () => {
    const allocator = new MappedIpAllocator(DEFAULTS, { maxDomains: 3 });
    for (let i = 0; i < 3; i++) assign(allocator, `d${i}.test`);
    const refused = allocator.assign('d3.test', 0);
    expect(!refused.ok && refused.message).toContain('limit of 3 domains');
  });
});
