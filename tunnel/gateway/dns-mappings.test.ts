import { describe, expect, it } from 'vitest';
import { addressToString as formatIp, parseAddress as parseIp } from '../packet/index.js';
import { DnsMappings, type ProxyTarget } from './dns-mappings.js';

const ip = (text: string) => parseIp(text)!;
const T0 = 1_000;
const real = (t: ProxyTarget | undefined) => (t?.kind === 'real' ? formatIp(t.address) : t?.kind);

describe('DnsMappings', () => {
  const proxies4 = ['100.96.0.1', '100.96.0.2', '100.96.0.3', '100.96.0.4'].map(ip);
  const proxies6 = ['fd00:2021:1111:8000::1', 'fd00:2021:1111:8000::2'].map(ip);

  it('cycles each family through its own records so round robin survives', () => {
    const dns = new DnsMappings();
    dns.assign('r1', 'web.corp.test', [...proxies4, ...proxies6]);
    dns.setRecords('web.corp.test', { v4: [ip('10.0.0.1'), ip('10.0.0.2')], v6: [ip('fd00:99::1')] }, T0 + 5000);
    expect(proxies4.map((p) => real(dns.target(p, T0)))).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.2']);
    expect(proxies6.map((p) => real(dns.target(p, T0)))).toEqual(['fd00:99::1', 'fd00:99::1']);
  });

  it('borrows the other family when one has no records (NAT64/NAT46)', () => {
    const dns = new DnsMappings();
    dns.assign('r1', 'v6only.corp.test', [...proxies4, ...proxies6]);
    dns.setRecords('v6only.corp.test', { v4: [], v6: [ip('fd00:99::1'), ip('fd00:99::2')] }, T0 + 5000);
    expect(proxies4.map((p) => real(dns.target(p, T0)))).toEqual([
      'fd00:99::1',
      'fd00:99::2',
      'fd00:99::1',
      'fd00:99::2',
    ]);
    dns.setRecords('v6only.corp.test', { v4: [], v6: [] }, T0 + 5000);
    expect(real(dns.target(proxies4[0]!, T0))).toBe('unresolved');
  });

  it('is stale before the first resolution and after the rule time', () => {
    const dns = new DnsMappings();
    dns.assign('r1', 'web.corp.test', proxies4);
    expect(real(dns.target(proxies4[0]!, T0))).toBe('stale');
    dns.setRecords('web.corp.test', { v4: [ip('10.0.0.1')], v6: [] }, T0 + 5000);
    expect(real(dns.target(proxies4[0]!, T0 + 4999))).toBe('10.0.0.1');
    expect(real(dns.target(proxies4[0]!, T0 + 5000))).toBe('stale');
    expect(dns.target(ip('100.96.9.9'), T0)).toBeUndefined();
  });

  it('keeps records across a re-assignment until the re-query answers', () => {
    const dns = new DnsMappings();
    dns.assign('r1', 'web.corp.test', proxies4);
    dns.setRecords('web.corp.test', { v4: [ip('10.0.0.1')], v6: [] }, T0 + 5000);
    dns.assign('r1', 'web.corp.test', proxies4);
    expect(real(dns.target(proxies4[0]!, T0))).toBe('10.0.0.1');
  });

  it('moves a mapped IP the client re-used for another domain', () => {
    const dns = new DnsMappings();
    dns.assign('r1', 'a.corp.test', proxies4.slice(0, 2));
    dns.assign('r1', 'b.corp.test', proxies4.slice(1, 3));
    dns.setRecords('a.corp.test', { v4: [ip('10.0.0.1')], v6: [] }, T0 + 5000);
    dns.setRecords('b.corp.test', { v4: [ip('10.0.0.2')], v6: [] }, T0 + 5000);
    expect(proxies4.slice(0, 3).map((p) => real(dns.target(p, T0)))).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.2']);
    expect(dns.get('a.corp.test')!.proxyIps.map((a) => formatIp(a))).toEqual(['100.96.0.1']);
    dns.assign('r1', 'b.corp.test', [proxies4[0]!]);
    expect(dns.get('a.corp.test')).toBeUndefined();
    expect(real(dns.target(proxies4[1]!, T0))).toBeUndefined();
  });

  it('removes mappings by predicate', () => {
    const dns = new DnsMappings();
    dns.assign('r1', 'a.corp.test', [proxies4[0]!]);
    dns.assign('r2', 'b.corp.test', [proxies4[1]!]);
    expect(dns.removeWhere((m) => m.resourceId === 'r1').map((m) => m.domain)).toEqual(['a.corp.test']);
    expect(dns.target(proxies4[0]!, T0)).toBeUndefined();
    expect(dns.size).toBe(1);
  });
});
