import { describe, expect, it } from 'vitest';
import { ipv6Enabled } from './ipv6.js';

describe('ipv6Enabled', () => {
  it('reads the device sysctl', () => {
    const paths: string[] = [];
    const reading = (value: string) => (path: string) => (paths.push(path), value);
    expect(ipv6Enabled('pt0', reading('0\n'))).toBe(true);
    expect(ipv6Enabled('pt0', reading('1\n'))).toBe(false);
    expect(paths).toEqual(['/proc/sys/net/ipv6/conf/pt0/disable_ipv6', '/proc/sys/net/ipv6/conf/pt0/disable_ipv6']);
  });

  it('is off when the sysctl is missing (IPv6 disabled at boot)', () => {
    const missing = () => {
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    };
    expect(ipv6Enabled('pt0', missing)).toBe(false);
  });

  it('agrees with this machine for the loopback device', () => {
    // lo exists everywhere; its sysctl is there exactly when the kernel has IPv6.
    expect(typeof ipv6Enabled('lo')).toBe('boolean');
  });
});
