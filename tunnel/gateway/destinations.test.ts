import { describe, expect, it } from 'vitest';
import type { Resource } from '../../protocol/resources.js';
import { parseAddress } from '../packet/index.js';
import { isForwardableDestination, rangeContains, resourceRange } from './destinations.js';

const ip = (text: string) => parseAddress(text)!;
const net = (address: string): Resource => ({ id: 'n', type: 'cidr', name: 'n', siteId: 's', address, filters: [] });

describe('gateway destinations', () => {
  it('never forwards into the tunnel ranges or to the gateway host itself', () => {
    for (const bad of [
      '100.64.0.2',
      '100.95.255.255',
      'fd00:2021:1111::5',
      '127.0.0.1',
      '::1',
      '0.0.0.0',
      '224.0.0.1',
      '169.254.1.1',
      'fe80::1',
      '255.255.255.255',
    ]) {
      expect(isForwardableDestination(ip(bad)), bad).toBe(false);
    }
    for (const good of ['10.0.0.5', '100.96.0.1', '192.0.2.1', 'fd00:99::1', '2001:db8::1']) {
      expect(isForwardableDestination(ip(good)), good).toBe(true);
    }
  });

  it('reads CIDR resources, bare addresses and host bits included', () => {
    expect(rangeContains(resourceRange(net('10.1.2.128/25'))!, ip('10.1.2.200'))).toBe(true);
    expect(rangeContains(resourceRange(net('10.1.2.128/25'))!, ip('10.1.2.127'))).toBe(false);
    expect(rangeContains(resourceRange(net('10.1.2.3/16'))!, ip('10.1.9.9'))).toBe(true);
    expect(rangeContains(resourceRange(net('10.0.0.9'))!, ip('10.0.0.9'))).toBe(true);
    expect(rangeContains(resourceRange(net('fd00:1::/32'))!, ip('10.0.0.9'))).toBe(false);
    expect(resourceRange({ ...net('x'), type: 'dns', ipStack: 'dual' } as Resource)).toBeUndefined();
  });
});
