import { describe, expect, it } from 'vitest';
import {
  CidrText,
  DEFAULT_MAPPED_IPV4_RANGE,
  DEFAULT_MAPPED_IPV6_RANGE,
  IpText,
  SENTINEL_IPV4_RANGE,
  SENTINEL_IPV6_RANGE,
  TUNNEL_IPV4_RANGE,
  TUNNEL_IPV6_RANGE,
  cidr,
  cidrContains,
  cidrContainsCidr,
  cidrSize,
  cidrsOverlap,
  compareIp,
  formatCidr,
  formatIp,
  ip,
  ipAdd,
  ipFamily,
  ipFromBytes,
  ipFromReverseName,
  ipToBytes,
  ipv4,
  ipv6,
  lastAddress,
  makeCidr,
  nthAddress,
  offsetInCidr,
  parseCidr,
  parseIp,
  readIpv4,
  readIpv6,
  reverseName,
  writeIp,
  type Cidr,
  type Ipv4Cidr,
  type Ipv6Cidr,
} from './ip.js';

const v4 = (text: string) => cidr(text) as Ipv4Cidr;
const v6 = (text: string) => cidr(text) as Ipv6Cidr;

describe('parseIp', () => {
  it.each([
    ['0.0.0.0', 0],
    ['10.1.2.3', 0x0a010203],
    ['255.255.255.255', 0xffffffff],
    ['100.96.0.1', 0x64600001],
  ])('parses IPv4 %s as a number', (text, value) => {
    expect(parseIp(text)).toEqual({ ok: true, value });
  });

  it.each([
    ['::', 0n],
    ['::1', 1n],
    ['fd00:2021:1111:8000::', 0xfd00_2021_1111_8000n << 64n],
    ['FD00:2021:1111::1', (0xfd00_2021_1111n << 80n) | 1n],
    ['::ffff:1.2.3.4', 0xffff_0102_0304n],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', (1n << 128n) - 1n],
  ])('parses IPv6 %s as a bigint', (text, value) => {
    expect(parseIp(text)).toEqual({ ok: true, value });
  });

  it.each([
    ['', 'four numbers'],
    ['10.0.0', 'four numbers'],
    ['10.0.0.0.1', 'four numbers'],
    ['10.0.0.256', '256 is more than 255'],
    ['10.0.0.01', 'leading zero'],
    ['0x7f.0.0.1', '"0x7f" is not a decimal number'],
    ['127.1', 'four numbers'],
    [' 10.0.0.1', '" 10" is not a decimal number'],
    ['10.0.0.-1', 'not a decimal number'],
    ['fe80::1%eth0', 'zone index'],
    ['1::2::3', 'not a valid IPv6 address'],
    ['12345::', 'not a valid IPv6 address'],
    ['::ffff:0x1.2.3.4', 'embedded IPv4 address'],
    ['::ffff:1.2.3.400', 'embedded IPv4 address: 400 is more than 255'],
    ['example.com', 'four numbers'],
  ])('rejects %j naming the text and why (%s)', (text, why) => {
    const result = parseIp(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toContain(`"${text}"`);
    expect(result.error).toContain(why);
  });

  it('ip() throws the same message', () => {
    expect(() => ip('10.0.0.300')).toThrow('invalid IP address "10.0.0.300": 300 is more than 255');
  });
});

describe('parseCidr', () => {
  it('parses both families and keeps the prefix', () => {
    expect(parseCidr('100.96.0.0/11')).toEqual({ ok: true, value: { family: 4, network: 0x64600000, prefix: 11 } });
    expect(parseCidr('fd00:2021:1111:8000::/107')).toEqual({
      ok: true,
      value: { family: 6, network: 0xfd00_2021_1111_8000n << 64n, prefix: 107 },
    });
    expect(parseCidr('0.0.0.0/0')).toEqual({ ok: true, value: { family: 4, network: 0, prefix: 0 } });
    expect(parseCidr('::/0')).toEqual({ ok: true, value: { family: 6, network: 0n, prefix: 0 } });
  });

  it('rejects host bits and names the range the text probably meant', () => {
    expect(parseCidr('10.0.0.1/24')).toEqual({
      ok: false,
      error: 'invalid CIDR range "10.0.0.1/24": host bits are set; the range is 10.0.0.0/24',
    });
    expect(parseCidr('10.0.0.1/24', { allowHostBits: true })).toEqual({ ok: true, value: v4('10.0.0.0/24') });
    expect(parseCidr('fd00::1/64')).toMatchObject({ ok: false, error: expect.stringContaining('fd00::/64') });
  });

  it('requires the prefix unless bare addresses are allowed', () => {
    expect(parseCidr('10.0.0.1')).toMatchObject({ ok: false, error: expect.stringContaining('prefix length') });
    expect(parseCidr('10.0.0.1', { allowBareAddress: true })).toEqual({ ok: true, value: v4('10.0.0.1/32') });
    expect(parseCidr('fd00::1', { allowBareAddress: true })).toEqual({ ok: true, value: v6('fd00::1/128') });
  });

  it.each([
    ['10.0.0.0/33', 'from 0 to 32 for IPv4'],
    ['fd00::/129', 'from 0 to 128 for IPv6'],
    ['10.0.0.0/', 'from 0 to 32'],
    ['10.0.0.0/+8', 'from 0 to 32'],
    ['10.0.0.0/08', 'from 0 to 32'],
    ['10.0.0.0/8/8', 'from 0 to 32'],
    ['10.0.0/8', 'the address "10.0.0": an IPv4 address is four numbers'],
    ['/8', 'the address ""'],
  ])('rejects %j (%s)', (text, why) => {
    const result = parseCidr(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.startsWith(`invalid CIDR range "${text}": `)).toBe(true);
    if (!result.ok) expect(result.error).toContain(why);
  });

  it('round-trips through formatCidr', () => {
    for (const text of [
      '100.64.0.0/11',
      'fd00:2021:1111::/107',
      '0.0.0.0/0',
      '::/0',
      '1.2.3.4/32',
      '2001:db8::1/128',
    ]) {
      expect(formatCidr(cidr(text))).toBe(text);
    }
  });
});

describe('zod schemas', () => {
  it('IpText and CidrText carry the parser message', () => {
    expect(IpText.parse('10.0.0.1')).toBe('10.0.0.1');
    expect(CidrText.parse('10.0.0.0/8')).toBe('10.0.0.0/8');
    const bad = CidrText.safeParse('10.0.0.1/8');
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toBe(
      'invalid CIDR range "10.0.0.1/8": host bits are set; the range is 10.0.0.0/8',
    );
    expect(IpText.safeParse('1.2.3').error?.issues[0]?.message).toContain('"1.2.3"');
  });
});

describe('formatIp', () => {
  it.each([
    ['0.0.0.0'],
    ['255.255.255.255'],
    ['::'],
    ['::1'],
    ['fd00:2021:1111:8000:100:100:111:0'],
    ['2001:db8::1:0:0:1'],
    ['1:0:0:1::'],
  ])('formats %s canonically', (text) => {
    expect(formatIp(ip(text))).toBe(text);
  });

  it('writes IPv6 as RFC 5952: lower case, longest run of zeros compressed', () => {
    expect(formatIp(ip('2001:0DB8:0:0:1:0:0:0'))).toBe('2001:db8:0:0:1::');
    expect(formatIp(ip('fd00:0:0:0:0:0:0:1'))).toBe('fd00::1');
  });
});

describe('numbers and bytes', () => {
  it('ipv4/ipv6 accept only values of the family', () => {
    expect(ipv4(0xffffffff)).toBe(0xffffffff);
    expect(() => ipv4(2 ** 32)).toThrow(RangeError);
    expect(() => ipv4(-1)).toThrow(RangeError);
    expect(() => ipv4(1.5)).toThrow(RangeError);
    expect(ipv6((1n << 128n) - 1n)).toBe((1n << 128n) - 1n);
    expect(() => ipv6(1n << 128n)).toThrow(RangeError);
    expect(() => ipv6(-1n)).toThrow(RangeError);
  });

  it('converts to and from network byte order', () => {
    expect([...ipToBytes(ip('192.0.2.1'))]).toEqual([192, 0, 2, 1]);
    expect([...ipToBytes(ip('2001:db8::1'))]).toEqual([0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1]);
    for (const text of ['192.0.2.255', '255.255.255.255', '2001:db8::ff00:1', 'ffff::ffff']) {
      expect(formatIp(ipFromBytes(ipToBytes(ip(text))))).toBe(text);
    }
    expect(() => ipFromBytes(new Uint8Array(5))).toThrow(RangeError);
  });

  it('reads and writes at an offset inside a larger buffer', () => {
    const buf = new Uint8Array(24);
    writeIp(ip('10.9.8.7'), buf, 2);
    writeIp(ip('fd00::abcd'), buf, 8);
    expect(formatIp(readIpv4(buf, 2))).toBe('10.9.8.7');
    expect(formatIp(readIpv6(buf, 8))).toBe('fd00::abcd');
    expect(() => readIpv4(buf, 21)).toThrow(RangeError);
    expect(() => readIpv6(buf, 9)).toThrow(RangeError);
  });

  it('tells the family by type and orders IPv4 first', () => {
    expect(ipFamily(ip('1.2.3.4'))).toBe(4);
    expect(ipFamily(ip('::1'))).toBe(6);
    const sorted = ['::1', '10.0.0.2', '::', '10.0.0.1'].map(ip).sort(compareIp).map(formatIp);
    expect(sorted).toEqual(['10.0.0.1', '10.0.0.2', '::', '::1']);
  });

  it('works as a Map key by value', () => {
    const map = new Map([[ip('fd00::1'), 'a']]);
    expect(map.get(ip('fd00:0::1'))).toBe('a');
  });
});

describe('arithmetic and ranges', () => {
  it('adds offsets within the family and throws outside it', () => {
    expect(formatIp(ipAdd(ip('10.0.0.255'), 1))).toBe('10.0.1.0');
    expect(formatIp(ipAdd(ip('10.0.1.0'), -1n))).toBe('10.0.0.255');
    expect(formatIp(ipAdd(ip('fd00::ffff'), 1))).toBe('fd00::1:0');
    expect(() => ipAdd(ip('255.255.255.255'), 1)).toThrow(RangeError);
    expect(() => ipAdd(ip('0.0.0.0'), -1)).toThrow(RangeError);
    expect(() => ipAdd(ip('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 1)).toThrow(RangeError);
  });

  it('sizes ranges and finds the n-th address', () => {
    expect(cidrSize(DEFAULT_MAPPED_IPV4_RANGE)).toBe(2n ** 21n);
    expect(cidrSize(DEFAULT_MAPPED_IPV6_RANGE)).toBe(2n ** 21n);
    expect(cidrSize(cidr('::/0'))).toBe(2n ** 128n);
    expect(cidrSize(cidr('0.0.0.0/0'))).toBe(2n ** 32n);
    expect(formatIp(nthAddress(DEFAULT_MAPPED_IPV4_RANGE, 0))).toBe('100.96.0.0');
    expect(formatIp(nthAddress(DEFAULT_MAPPED_IPV4_RANGE, 257))).toBe('100.96.1.1');
    expect(formatIp(nthAddress(DEFAULT_MAPPED_IPV6_RANGE, 2n ** 21n - 1n))).toBe('fd00:2021:1111:8000::1f:ffff');
    expect(formatIp(lastAddress(DEFAULT_MAPPED_IPV4_RANGE))).toBe('100.127.255.255');
    expect(() => nthAddress(DEFAULT_MAPPED_IPV4_RANGE, 2 ** 21)).toThrow(/outside 100.96.0.0\/11/);
    expect(() => nthAddress(DEFAULT_MAPPED_IPV4_RANGE, -1)).toThrow(RangeError);
  });

  it('offsetInCidr inverts nthAddress', () => {
    const range = DEFAULT_MAPPED_IPV6_RANGE;
    expect(offsetInCidr(range, nthAddress(range, 12345))).toBe(12345n);
    expect(offsetInCidr(range, ip('fd00::1'))).toBeUndefined();
    expect(offsetInCidr(range, ip('100.96.0.1'))).toBeUndefined();
  });

  it('makeCidr clears host bits', () => {
    expect(formatCidr(makeCidr(ip('10.1.2.3'), 8))).toBe('10.0.0.0/8');
    expect(formatCidr(makeCidr(ip('fd00::1234'), 120))).toBe('fd00::1200/120');
    expect(formatCidr(makeCidr(ip('10.1.2.3'), 0))).toBe('0.0.0.0/0');
    expect(() => makeCidr(ip('10.1.2.3'), 33)).toThrow(RangeError);
  });

  it('checks containment by family', () => {
    const range = cidr('10.0.0.0/8');
    expect(cidrContains(range, ip('10.255.255.255'))).toBe(true);
    expect(cidrContains(range, ip('11.0.0.0'))).toBe(false);
    expect(cidrContains(range, ip('::a00:1'))).toBe(false);
    expect(cidrContains(cidr('0.0.0.0/0'), ip('255.255.255.255'))).toBe(true);
    expect(cidrContains(cidr('::/0'), ip('1.2.3.4'))).toBe(false);
    expect(cidrContains(cidr('fd00::/8'), ip('fdff::1'))).toBe(true);
    expect(cidrContains(cidr('fd00::/8'), ip('fe00::1'))).toBe(false);
  });

  it('checks range containment and overlap', () => {
    const outer = cidr('10.0.0.0/8');
    const inner = cidr('10.1.0.0/16');
    const other = cidr('11.0.0.0/8');
    expect(cidrContainsCidr(outer, inner)).toBe(true);
    expect(cidrContainsCidr(inner, outer)).toBe(false);
    expect(cidrContainsCidr(outer, outer)).toBe(true);
    expect(cidrsOverlap(inner, outer)).toBe(true);
    expect(cidrsOverlap(outer, other)).toBe(false);
    expect(cidrsOverlap(cidr('::/0'), outer)).toBe(false);
  });
});

describe('reverse DNS names', () => {
  it.each([
    ['192.0.2.1', '1.2.0.192.in-addr.arpa'],
    ['100.96.0.0', '0.0.96.100.in-addr.arpa'],
    ['2001:db8::567:89ab', 'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
  ])('%s ↔ %s', (address, name) => {
    expect(reverseName(ip(address))).toBe(name);
    expect(formatIp(ipFromReverseName(name)!)).toBe(address);
    expect(formatIp(ipFromReverseName(`${name.toUpperCase()}.`)!)).toBe(address);
  });

  it.each([
    '2.0.192.in-addr.arpa',
    '1.1.2.0.192.in-addr.arpa',
    '256.2.0.192.in-addr.arpa',
    '01.2.0.192.in-addr.arpa',
    'x.2.0.192.in-addr.arpa',
    '.2.0.192.in-addr.arpa',
    'in-addr.arpa',
    '8.b.d.0.1.0.0.2.ip6.arpa',
    `${'0.'.repeat(31)}g.ip6.arpa`,
    `${'0.'.repeat(31)}10.ip6.arpa`,
    'example.com',
    '1.2.0.192.in-addr.arpa..',
  ])('%s is not the reverse name of one address', (name) => {
    expect(ipFromReverseName(name)).toBeUndefined();
  });

  it('round-trips every address of a small range of each family', () => {
    for (const range of [cidr('10.0.0.0/24'), cidr('fd00::/120')] as Cidr[]) {
      for (let i = 0; i < 256; i++) {
        const address = nthAddress(range, i);
        expect(ipFromReverseName(reverseName(address))).toBe(address);
      }
    }
  });
});

describe("Postern's address plan", () => {
  it('has the ranges of DESIGN.md', () => {
    expect(formatCidr(TUNNEL_IPV4_RANGE)).toBe('100.64.0.0/11');
    expect(formatCidr(TUNNEL_IPV6_RANGE)).toBe('fd00:2021:1111::/107');
    expect(formatCidr(DEFAULT_MAPPED_IPV4_RANGE)).toBe('100.96.0.0/11');
    expect(formatCidr(DEFAULT_MAPPED_IPV6_RANGE)).toBe('fd00:2021:1111:8000::/107');
    expect(formatCidr(SENTINEL_IPV4_RANGE)).toBe('100.100.111.0/24');
    expect(formatCidr(SENTINEL_IPV6_RANGE)).toBe('fd00:2021:1111:8000:100:100:111:0/120');
  });

  it('keeps tunnel and mapped ranges apart; the IPv4 sentinels sit inside the IPv4 mapped range', () => {
    expect(cidrsOverlap(TUNNEL_IPV4_RANGE, DEFAULT_MAPPED_IPV4_RANGE)).toBe(false);
    expect(cidrsOverlap(TUNNEL_IPV6_RANGE, DEFAULT_MAPPED_IPV6_RANGE)).toBe(false);
    expect(cidrContainsCidr(DEFAULT_MAPPED_IPV4_RANGE, SENTINEL_IPV4_RANGE)).toBe(true);
    expect(cidrsOverlap(DEFAULT_MAPPED_IPV6_RANGE, SENTINEL_IPV6_RANGE)).toBe(false);
  });
});
