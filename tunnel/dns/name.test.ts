import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeName, normalizeName, readName } from './name.js';

/** A message whose bytes from offset 12 on are `body` (the header is irrelevant to names). */
const message = (...body: number[]) => Uint8Array.from([...new Array(12).fill(0), ...body]);
const labels = (...parts: string[]) => parts.flatMap((p) => [p.length, ...Buffer.from(p, 'latin1')]);

describe('normalizeName', () => {
  it.each([
    ['Example.COM.', 'example.com'],
    ['example.com', 'example.com'],
    ['.', '.'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['_ldap._tcp.Corp.Test', '_ldap._tcp.corp.test'],
    ['*.corp.test', '*.corp.test'],
    [`${'a'.repeat(63)}.test`, `${'a'.repeat(63)}.test`],
    [`${'a.'.repeat(126)}b`, `${'a.'.repeat(126)}b`],
  ])('%s → %s', (text, normal) => {
    expect(normalizeName(text)).toEqual({ ok: true, value: normal });
  });

  it.each([
    ['', 'empty'],
    ['..', 'empty label'],
    ['a..b', 'empty label'],
    ['.a', 'empty label'],
    ['a.b..', 'empty label'],
    ['bücher.de', 'punycode'],
    ['a b.test', 'character " " is not allowed'],
    ['a\\.b.test', 'character "\\\\" is not allowed'],
    ['tab\t.test', 'not allowed'],
    [`${'a'.repeat(64)}.test`, 'longer than 63 bytes'],
    [`${'a.'.repeat(126)}bc`, 'longer than 253 characters'],
  ])('rejects %j (%s)', (text, why) => {
    const result = normalizeName(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.kind).toBe('invalid-name');
    expect(result.error.message).toContain(JSON.stringify(text));
    expect(result.error.message).toContain(why);
  });
});

describe('readName', () => {
  it('reads labels in lower case and says where the name ends', () => {
    expect(readName(message(...labels('WWW', 'Example', 'com'), 0, 0xaa), 12)).toEqual({
      name: 'www.example.com',
      end: 12 + 17,
    });
    expect(readName(message(0), 12)).toEqual({ name: '.', end: 13 });
  });

  it('escapes bytes that are not plain printable ASCII, so different names never read the same', () => {
    const odd = message(3, 0x61, 0x2e, 0x62, 2, 0x5c, 0x20, 3, 0x00, 0xff, 0x7f, 0);
    expect(readName(odd, 12)).toEqual({ name: 'a\\.b.\\\\\\032.\\000\\255\\127', end: odd.length });
    expect(readName(message(...labels('a.b'), 0), 12)).not.toEqual(readName(message(...labels('a', 'b'), 0), 12));
  });

  it('follows pointers to earlier names', () => {
    // "example.com" at 12, then "www" + pointer to 12 at 25, then a pointer to 25 at 31.
    const m = message(...labels('example', 'com'), 0, ...labels('www'), 0xc0, 12, 0xc0, 25);
    expect(readName(m, 25)).toEqual({ name: 'www.example.com', end: 31 });
    expect(readName(m, 31)).toEqual({ name: 'www.example.com', end: 33 });
  });

  it.each([
    ['a pointer forwards', message(0xc0, 14, 0), 'bad-name'],
    ['a pointer to itself', message(0xc0, 12), 'bad-name'],
    ['a pointer into the header', message(...labels('a'), 0, 0xc0, 2), 'bad-name', 15],
    ['two pointers in a loop', message(...labels('a'), 0xc0, 16, 0xc0, 12), 'bad-name', 16],
    ['an extended label type', message(0x41, 0), 'bad-name'],
    ['a missing final zero', message(...labels('a')), 'truncated'],
    ['a label past the end', message(5, 0x61), 'truncated'],
    ['half a pointer', message(0xc0), 'truncated'],
    ['no bytes at all', message(), 'truncated'],
  ])('rejects %s', (_, m, kind, offset = 12) => {
    expect(readName(m, offset)).toMatchObject({ kind });
  });

  it('accepts 255 bytes on the wire and rejects 256', () => {
    const longest = [...labels('a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)), 0];
    expect(longest).toHaveLength(255);
    expect(readName(message(...longest), 12)).toMatchObject({ end: 12 + 255 });
    const tooLong = [...labels('a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(62)), 0];
    expect(readName(message(...tooLong), 12)).toMatchObject({ kind: 'bad-name' });
  });
});

describe('encodeName', () => {
  it('writes labels and the final zero', () => {
    expect([...encodeName('www.example.com')]).toEqual([...labels('www', 'example', 'com'), 0]);
    expect([...encodeName('.')]).toEqual([0]);
  });

  it('is the inverse of readName for any labels, escapes included', () => {
    const label = fc.uint8Array({ minLength: 1, maxLength: 63 });
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), (parts) => {
        const wire = message(...parts.flatMap((p) => [p.length, ...p]), 0);
        const read = readName(wire, 12);
        if ('kind' in read) return; // over 255 bytes
        const lower = wire.subarray(12).map((b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b));
        expect([...encodeName(read.name)]).toEqual([...lower]);
      }),
      { numRuns: 2000 },
    );
  });

  it.each(['', 'a..b', '.a', `${'a'.repeat(64)}.test`, 'a\\', 'ü.test', 'a b', `${'a.'.repeat(127)}b`])(
    'throws for %j, which no parser produces',
    (name) => {
      expect(() => encodeName(name)).toThrow(/cannot encode DNS name/);
    },
  );
});
