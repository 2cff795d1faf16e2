import { describe, expect, it } from 'vitest';
import { cidrContains, formatIp, ipKey, isForwardableDestination, parseCidr, parseIp } from './address.js';

const ip = (text: string) => parseIp(text)!;

describe('gateway addresses', () => {
  it('parses, formats and keys both families', () => {
    expect(formatIp(ip('10.0.0.1'))).toBe('10.0.0.1');
    expect(formatIp(ip('FD00::0001'))).toBe('fd00::1');
    expect(ipKey(ip('fd00::1'))).toBe(ipKey(ip('fd00:0:0:0:0:0:0:1')));
    expect(parseIp('nas.corp.test')).toBeUndefined();
  });

  it('checks CIDR containment on byte boundaries and inside bytes', () => {
    const r = parseCidr('10.1.2.128/25')!;
    expect(cidrContains(r, ip('10.1.2.200'))).toBe(true);
    expect(cidrContains(r, ip('10.1.2.127'))).toBe(false);
    expect(cidrContains(parseCidr('fd00:1::/32')!, ip('fd00:1::5'))).toBe(true);
    expect(cidrContains(parseCidr('10.0.0.0/8')!, ip('fd00::1'))).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, ip('1.2.3.4'))).toBe(true);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('10.0.0.9')).toEqual({ network: ip('10.0.0.9'), prefix: 32 });
  });

  it('never forwards into the tunnel ranges or to the gateway host itself', () => {
    for (const bad of [
      '100.64.0.2',
      '100.95.255.255',
      'fd00:2021:1111::5',
      '127.0.0.1',
      '::1',
      '0.0.0.0',
      '224.0.0.1',
    ]) {
      expect(isForwardableDestination(ip(bad)), bad).toBe(false);
    }
    for (const good of ['10.0.0.5', '100.96.0.1', '192.0.2.1', 'fd00:99::1', '2001:db8::1']) {
      expect(isForwardableDestination(ip(good)), good).toBe(true);
    }
  });
});
