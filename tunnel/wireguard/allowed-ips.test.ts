import { describe, expect, it } from 'vitest';
import { AllowedIps, parseRoutePrefix, type RoutePrefix } from './allowed-ips.js';
import { ipv4Packet, ipv6Packet } from './testing.js';

function cidr(text: string): RoutePrefix {
  const parsed = parseRoutePrefix(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.prefix;
}
/** A table from [cidr, owner] pairs. */
function table(entries: [string, string][]): AllowedIps<string> {
  const t = new AllowedIps<string>();
  for (const [text, owner] of entries) t.insert(cidr(text), owner);
  return t;
}
const lookup = (t: AllowedIps<string>, address: string) => {
  const c = cidr(address);
  return t.lookup(c.family, c.bytes, 0);
};

describe('parseRoutePrefix', () => {
  it('canonicalises and clears host bits like wg', () => {
    expect(cidr('10.1.2.3/8').text).toBe('10.0.0.0/8');
    expect(cidr('10.1.2.3').text).toBe('10.1.2.3/32');
    expect(cidr('FD00:0:0::1/64').text).toBe('fd00::/64');
    expect(cidr('::/0').text).toBe('::/0');
    expect(cidr('0.0.0.0/0').prefix).toBe(0);
  });

  it('returns typed errors for malformed input', () => {
    for (const bad of [
      '',
      '10.0.0.0/33',
      'fd00::/129',
      '10.0.0/8',
      '1',
      '0x1.2.3.4/8',
      '10.0.0.0/-1',
      '10.0.0.0/',
      'x/8',
    ]) {
      const parsed = parseRoutePrefix(bad);
      expect(parsed.ok, bad).toBe(false);
    }
  });
});

describe('AllowedIps', () => {
  it('finds the longest matching prefix for IPv4 and IPv6', () => {
    const t = table([
      ['0.0.0.0/0', 'default'],
      ['10.0.0.0/8', 'ten'],
      ['10.1.0.0/16', 'ten-one'],
      ['10.1.2.3/32', 'host'],
      ['fd00::/8', 'ula'],
      ['fd00:2021:1111::/107', 'tunnel'],
    ]);
    expect(lookup(t, '10.1.2.3')).toBe('host');
    expect(lookup(t, '10.1.2.4')).toBe('ten-one');
    expect(lookup(t, '10.2.0.1')).toBe('ten');
    expect(lookup(t, '192.168.0.1')).toBe('default');
    expect(lookup(t, 'fd00:2021:1111::1f:ffff')).toBe('tunnel');
    expect(lookup(t, 'fd00:2021:1111::20:0')).toBe('ula');
    expect(lookup(t, '2001:db8::1')).toBeUndefined();
  });

  it('moves a prefix to its new owner and removes only what the owner holds', () => {
    const t = new AllowedIps<string>();
    expect(t.insert(cidr('10.0.0.0/24'), 'a')).toBeUndefined();
    expect(t.insert(cidr('10.0.0.0/24'), 'b')).toBe('a');
    expect(t.remove(cidr('10.0.0.0/24'), 'a')).toBe(false);
    expect(lookup(t, '10.0.0.9')).toBe('b');
    expect(t.remove(cidr('10.0.0.0/24'), 'b')).toBe(true);
    expect(lookup(t, '10.0.0.9')).toBeUndefined();
  });

  it('keeps shorter prefixes when a longer one under them is removed', () => {
    const t = table([
      ['10.0.0.0/8', 'wide'],
      ['10.0.0.0/24', 'narrow'],
    ]);
    t.remove(cidr('10.0.0.0/24'), 'narrow');
    expect(lookup(t, '10.0.0.1')).toBe('wide');
  });

  it('reads source and destination straight from packets', () => {
    const t = table([
      ['10.0.0.1/32', 'src'],
      ['10.0.0.2/32', 'dst'],
      ['fd00::1/128', 'src6'],
      ['fd00::2/128', 'dst6'],
    ]);
    expect(t.lookupSource(ipv4Packet('10.0.0.1', '10.0.0.2', 0))).toBe('src');
    expect(t.lookupDestination(ipv4Packet('10.0.0.1', '10.0.0.2', 0))).toBe('dst');
    expect(t.lookupSource(ipv6Packet(1, 2, 0))).toBe('src6');
    expect(t.lookupDestination(ipv6Packet(1, 2, 0))).toBe('dst6');
    expect(t.lookupDestination(new Uint8Array([0x45, 0, 0]))).toBeUndefined();
    expect(t.lookupDestination(new Uint8Array(40))).toBeUndefined();
  });

  it('stays correct against a brute-force model on random prefixes', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 ** 32;
    const t = new AllowedIps<number>();
    const prefixes: { net: number; len: number; id: number }[] = [];
    for (let id = 0; id < 300; id++) {
      const len = Math.floor((random() / 2 ** 32) * 33);
      const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
      const net = (random() & mask) >>> 0;
      const text = `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${len}`;
      t.insert(cidr(text), id);
      const existing = prefixes.findIndex((p) => p.net === net && p.len === len);
      if (existing >= 0) prefixes.splice(existing, 1);
      prefixes.push({ net, len, id });
    }
    for (let i = 0; i < 2000; i++) {
      const address = (i % 2 ? random() : prefixes[i % prefixes.length]!.net + (i & 7)) >>> 0;
      let best: { len: number; id: number } | undefined;
      for (const p of prefixes) {
        const mask = p.len === 0 ? 0 : (~0 << (32 - p.len)) >>> 0;
        if ((address & mask) >>> 0 === p.net && (!best || p.len > best.len)) best = p;
      }
      const bytes = new Uint8Array([address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255]);
      expect(t.lookup(4, bytes, 0)).toBe(best?.id);
    }
  });
});
