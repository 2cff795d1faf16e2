import { describe, expect, it } from 'vitest';
import { formatCidr, ip } from '../../protocol/ip.js';
import type { CidrResource, DnsResource } from '../../protocol/resources.js';
import { ResourceTable } from './resource-table.js';

const dns = (id: string, address: string): DnsResource => ({
  id,
  name: id,
  siteId: 'site',
  filters: [],
  type: 'dns',
  address,
  ipStack: 'dual',
});
const range = (id: string, address: string): CidrResource => ({
  id,
  name: id,
  siteId: 'site',
  filters: [],
  type: 'cidr',
  address,
});

describe('ResourceTable', () => {
  it('ignores resources whose pattern is invalid (`*.*`, inner wildcards) and says why', () => {
    const table = new ResourceTable();
    table.replaceAll([dns('star-star', '*.*'), dns('inner', 'a.*.corp.test'), dns('ok', '*.corp.test')]);
    expect(table.invalid.map((i) => i.id)).toEqual(['inner', 'star-star']);
    expect(table.matchDomain('x.y')).toBeUndefined();
    expect(table.matchDomain('a.b.corp.test')?.id).toBe('ok');
  });

  it('resolves the same pattern twice to the smaller id, whatever the order', () => {
    for (const order of [
      ['b', 'a'],
      ['a', 'b'],
    ]) {
      const table = new ResourceTable();
      for (const id of order) table.upsert(dns(id, id === 'a' ? '*.corp.test' : '*.Corp.Test.'));
      expect(table.matchDomain('x.corp.test')?.id).toBe('a');
      expect(table.invalid).toMatchObject([{ id: 'b', reason: 'duplicate' }]);
    }
  });

  it('finds CIDR and IP resources by longest prefix, IPv4 and IPv6', () => {
    const table = new ResourceTable();
    table.replaceAll([
      range('wide', '10.0.0.0/8'),
      range('lab', '10.20.0.0/16'),
      range('host', '10.20.30.40'),
      range('v6', 'fd10::/64'),
      range('v6host', 'fd10::1/128'),
      range('hostbits', '192.168.1.77/24'),
    ]);
    const match = (text: string) => table.matchAddress(ip(text))?.id;
    expect(match('10.1.2.3')).toBe('wide');
    expect(match('10.20.1.1')).toBe('lab');
    expect(match('10.20.30.40')).toBe('host');
    expect(match('10.20.30.41')).toBe('lab');
    expect(match('11.0.0.1')).toBeUndefined();
    expect(match('fd10::2')).toBe('v6');
    expect(match('fd10::1')).toBe('v6host');
    expect(match('fd11::1')).toBeUndefined();
    expect(match('192.168.1.1')).toBe('hostbits');
    expect(table.ranges().map(formatCidr).sort()).toEqual([
      '10.0.0.0/8',
      '10.20.0.0/16',
      '10.20.30.40/32',
      '192.168.1.0/24',
      'fd10::/64',
      'fd10::1/128',
    ]);
  });

  it('forgets removed resources', () => {
    const table = new ResourceTable();
    table.replaceAll([dns('corp', '*.corp.test'), range('lab', '10.20.0.0/16')]);
    table.remove('corp');
    table.remove('lab');
    expect(table.matchDomain('corp.test')).toBeUndefined();
    expect(table.matchAddress(ip('10.20.0.1'))).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it('matches block rules with the same patterns; the first rule of a pattern wins', () => {
    const table = new ResourceTable();
    table.setBlockRules([
      { pattern: '*.ads.test' },
      { pattern: '*.ads.test', answer: '0.0.0.0' },
      { pattern: 'x.*.test' },
    ]);
    expect(table.matchBlockRule('a.b.ads.test')).toEqual({ pattern: '*.ads.test' });
    expect(table.invalidBlockRules).toHaveLength(1);
  });
});
