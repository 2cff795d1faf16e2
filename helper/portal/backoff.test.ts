import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles the ceiling up to the maximum and stays within its upper half', () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    const high = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    const lows = Array.from({ length: 7 }, () => low.next());
    const highs = Array.from({ length: 7 }, () => high.next());
    expect(lows).toEqual([50, 100, 200, 400, 500, 500, 500]);
    highs.forEach((h, i) => expect(h).toBeCloseTo([100, 200, 400, 800, 1000, 1000, 1000][i]!, 2));
  });

  it('spreads clients apart (jitter) and starts over after reset', () => {
    let seed = 1;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const b = new Backoff({ initialMs: 1000, maxMs: 60_000, random });
    const delays = new Set<number>();
    for (let i = 0; i < 20; i++) {
      b.reset();
      b.next();
      delays.add(b.next());
    }
    expect(delays.size).toBeGreaterThan(15);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(2000);
    }
    expect(b.attempts).toBe(2);
  });

  it('does not overflow after very many failures', () => {
    const b = new Backoff({ initialMs: 500, maxMs: 30_000, random: () => 0.5 });
    for (let i = 0; i < 5000; i++) b.next();
    expect(b.next()).toBe(22_500);
  });
});
