import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adjustChecksum, fold, internetChecksum, read16, sum16, wordDelta, write16 } from './index.js';

describe('checksum', () => {
  it('computes the RFC 1071 example', () => {
    const data = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(sum16(data, 0, 8)).toBe(0xddf2);
    expect(internetChecksum(data, 0, 8)).toBe(0x220d);
  });

  it('pads an odd last byte with zero', () => {
    expect(sum16(Uint8Array.from([0x12, 0x34, 0x56]), 0, 3)).toBe(0x1234 + 0x5600);
  });

  it('folds carries, also of sums over 32 bits', () => {
    expect(fold(0x1ffff)).toBe(0x0001);
    expect(fold(0xffff)).toBe(0xffff);
    expect(fold(2 ** 40 + 5)).toBe(fold(2 ** 40 % 0xffff) + 5 - (fold(2 ** 40 % 0xffff) + 5 > 0xffff ? 0xffff : 0));
  });

  it('sums a 64 KiB buffer of 0xff (carries across the internal folding)', () => {
    const data = new Uint8Array(65535).fill(0xff);
    expect(sum16(data, 0, 65534)).toBe(0xffff);
    expect(internetChecksum(data, 0, 65534)).toBe(0);
    expect(sum16(data, 0, 65535)).toBe(0xff00);
  });

  it('gives the RFC 1624 example: eqn. 3 yields 0x0000, not the -0 of eqn. 2', () => {
    expect(adjustChecksum(0xdd2f, wordDelta(0x5555, 0x3285))).toBe(0x0000);
  });

  it('updates incrementally to exactly what a full recomputation gives', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 2, maxLength: 64 }).filter((d) => d.length % 2 === 0),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xffff })), { maxLength: 8 }),
        (original, changes) => {
          const data = Uint8Array.from(original);
          const checksum = internetChecksum(data, 0, data.length);
          let delta = 0;
          for (const [index, value] of changes) {
            const at = (index % (data.length / 2)) * 2;
            delta += wordDelta(read16(data, at), value);
            write16(data, at, value);
          }
          const incremental = adjustChecksum(checksum, delta);
          // The one difference: all-zero data (no real header is) gives 0xffff in full, 0 incrementally; both are
          // the same number in one's complement.
          if (data.every((b) => b === 0)) expect([0, 0xffff]).toContain(incremental);
          else expect(incremental).toBe(internetChecksum(data, 0, data.length));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
