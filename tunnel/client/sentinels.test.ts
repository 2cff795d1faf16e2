import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAPPED_IPV4_RANGE,
  DEFAULT_MAPPED_IPV6_RANGE,
  formatIp,
  ip,
  SENTINEL_IPV4_RANGE,
  SENTINEL_IPV6_RANGE,
} from '../../protocol/ip.js';
import { Sentinels } from './sentinels.js';

const sentinels = () =>
  new Sentinels({ ipv4: SENTINEL_IPV4_RANGE, ipv6: SENTINEL_IPV6_RANGE }, [
    DEFAULT_MAPPED_IPV4_RANGE,
    DEFAULT_MAPPED_IPV6_RANGE,
  ]);
const text = (s: Sentinels) => s.entries().map((e) => `${formatIp(e.sentinel)}=${formatIp(e.upstream)}`);

describe('Sentinels', () => {
  it('gives each upstream its own sentinel of its family, one to one', () => {
    const s = sentinels();
    expect(s.setUpstreams(['192.0.2.1', '2001:db8::1', '192.0.2.2', '192.0.2.1'])).toEqual({
      changed: true,
      ignored: [],
    });
    expect(text(s)).toEqual([
      '100.100.111.1=192.0.2.1',
      '100.100.111.2=192.0.2.2',
      'fd00:2021:1111:8000:100:100:111:1=2001:db8::1',
    ]);
    expect(s.upstreamOf(ip('100.100.111.2'))).toBe(ip('192.0.2.2'));
    expect(s.sentinelOf(ip('2001:db8::1'))).toBe(ip('fd00:2021:1111:8000:100:100:111:1'));
  });

  it('keeps the sentinels of upstreams that stay, and reuses freed ones', () => {
    const s = sentinels();
    s.setUpstreams(['192.0.2.1', '192.0.2.2']);
    expect(s.setUpstreams(['192.0.2.2', '192.0.2.3']).changed).toBe(true);
    expect(text(s)).toEqual(['100.100.111.1=192.0.2.3', '100.100.111.2=192.0.2.2']);
    expect(s.setUpstreams(['192.0.2.3', '192.0.2.2'])).toEqual({ changed: false, ignored: [] });
  });

  it('leaves out upstreams that would loop or are not addresses', () => {
    const s = sentinels();
    const update = s.setUpstreams([
      '100.100.111.9',
      '100.96.0.1',
      'fd00:2021:1111:8000::1',
      'dns.example',
      '192.0.2.1',
    ]);
    expect(update.ignored.map((i) => i.upstream)).toEqual([
      '100.100.111.9',
      '100.96.0.1',
      'fd00:2021:1111:8000::1',
      'dns.example',
    ]);
    expect(text(s)).toEqual(['100.100.111.1=192.0.2.1']);
  });

  it('runs out after 254 IPv4 upstreams and says so', () => {
    const s = sentinels();
    const many = Array.from({ length: 256 }, (_, i) => `10.0.${i >> 8}.${i & 0xff}`);
    const update = s.setUpstreams(many);
    expect(s.size).toBe(254);
    expect(update.ignored).toHaveLength(2);
    expect(update.ignored[0]!.reason).toBe('no sentinel address left');
  });
});
