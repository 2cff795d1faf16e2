import { describe, expect, it } from 'vitest';
import { filtersAllow } from './filters.js';

describe('filtersAllow', () => {
  it('allows everything without filters', () => {
    expect(filtersAllow([], 'tcp', 22)).toBe(true);
    expect(filtersAllow([], 'icmp', 0)).toBe(true);
  });

  it('allows only the listed protocols and port ranges', () => {
    const filters = [
      { protocol: 'tcp', portStart: 80, portEnd: 80 },
      { protocol: 'tcp', portStart: 8000, portEnd: 8999 },
      { protocol: 'udp', portStart: 53, portEnd: 53 },
    ] as const;
    expect(filtersAllow(filters, 'tcp', 80)).toBe(true);
    expect(filtersAllow(filters, 'tcp', 8443)).toBe(true);
    expect(filtersAllow(filters, 'tcp', 9000)).toBe(false);
    expect(filtersAllow(filters, 'tcp', 53)).toBe(false);
    expect(filtersAllow(filters, 'udp', 53)).toBe(true);
    expect(filtersAllow(filters, 'icmp', 0)).toBe(false);
    expect(filtersAllow([...filters, { protocol: 'icmp' }], 'icmp', 0)).toBe(true);
  });
});
