import { describe, expect, it } from 'vitest';
import { ReportThrottle } from './report-throttle.js';

describe('ReportThrottle', () => {
  it('allows one report per key per interval', () => {
    const throttle = new ReportThrottle(1000, 16);
    expect(throttle.allow(1, 0)).toBe(true);
    expect(throttle.allow(1, 999)).toBe(false);
    expect(throttle.allow(2, 999)).toBe(true);
    expect(throttle.allow(1, 1000)).toBe(true);
    expect(throttle.allow(1, 1500)).toBe(false);
  });

  it('remembers at most maxKeys keys, refusing new ones while all are fresh', () => {
    const throttle = new ReportThrottle(1000, 3);
    expect(throttle.allow('a', 0)).toBe(true);
    expect(throttle.allow('b', 0)).toBe(true);
    expect(throttle.allow('c', 600)).toBe(true);
    expect(throttle.allow('d', 900)).toBe(false);
    // 'a' and 'b' age out, 'c' does not yet.
    expect(throttle.allow('d', 1000)).toBe(true);
    expect(throttle.allow('e', 1000)).toBe(true);
    expect(throttle.allow('f', 1000)).toBe(false);
    expect(throttle.allow('c', 1000)).toBe(false);
    expect(throttle.allow('f', 1600)).toBe(true);
  });
});
