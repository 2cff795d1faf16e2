import { describe, expect, it } from 'vitest';
import { ip } from '../../protocol/ip.js';
import {
  addressKey,
  addressToString,
  ipToKey,
  ipv4Key,
  ipv6Key,
  keyToBytes,
  keyToIp,
  keyToString,
  parseAddress,
  type AddressKey,
} from './index.js';

describe('addresses', () => {
  it('converts between text and bytes', () => {
    expect(parseAddress('10.0.0.1')).toEqual(Uint8Array.from([10, 0, 0, 1]));
    expect(addressToString(Uint8Array.from([10, 0, 0, 1]))).toBe('10.0.0.1');
    const v6 = parseAddress('fd00:2021:1111:8000::1')!;
    expect(v6.length).toBe(16);
    expect(addressToString(v6)).toBe('fd00:2021:1111:8000::1');
    expect(addressToString(Uint8Array.from([9, 9, ...v6]), 2, 16)).toBe('fd00:2021:1111:8000::1');
    expect(addressToString(parseAddress('2001:DB8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
  });

  it('rejects what is not an address, and IPv4 shorthands', () => {
    for (const text of ['', '10.1', '010.0.0.1', '1.2.3.256', 'fd00::1::2', 'example.com', '1.2.3.4/24']) {
      expect(parseAddress(text), text).toBeUndefined();
    }
  });

  it('makes keys that are equal exactly when the addresses are', () => {
    const buf = Uint8Array.from([0, ...parseAddress('192.0.2.9')!, ...parseAddress('2001:db8::9')!]);
    expect(ipv4Key(buf, 1)).toBe(0xc0000209);
    expect(ipv6Key(buf, 5)).toBe(addressKey(parseAddress('2001:db8::9')!));
    expect(ipv6Key(buf, 5)).not.toBe(addressKey(parseAddress('2001:db8::a')!));
    expect(ipv6Key(buf, 5)).toHaveLength(8);
    const map = new Map<AddressKey, string>([[ipv6Key(buf, 5), 'x']]);
    expect(map.get(addressKey(Uint8Array.from(buf.subarray(5))))).toBe('x');
  });

  it('converts keys to and from protocol/ip addresses', () => {
    for (const text of [
      '0.0.0.0',
      '100.96.0.1',
      '::',
      '::1',
      'fd00:2021:1111:8000::7',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ]) {
      const address = ip(text);
      const key = addressKey(parseAddress(text)!);
      expect(ipToKey(address)).toBe(key);
      expect(keyToIp(key)).toBe(address);
    }
  });

  it('turns keys back into bytes and text', () => {
    for (const text of ['0.0.0.0', '255.255.255.255', '100.96.0.1', '::', 'ffff:ffff::ffff', 'fd00:2021:1111::1']) {
      const key = addressKey(parseAddress(text)!);
      expect(keyToString(key)).toBe(text);
      expect(keyToBytes(key)).toEqual(parseAddress(text));
    }
    expect(keyToBytes(0xc0a80001)).toEqual(Uint8Array.from([192, 168, 0, 1]));
  });
});
