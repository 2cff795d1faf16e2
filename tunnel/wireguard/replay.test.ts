import { describe, expect, it } from 'vitest';
import { counterRejected } from './keypair.js';
import { REPLAY_WINDOW, ReplayWindow } from './replay.js';

/** Counters as numbers below 2^53 for readability. */
const accept = (w: ReplayWindow, c: number) => w.accept(Math.floor(c / 2 ** 32), c % 2 ** 32);

describe('ReplayWindow', () => {
  it('keeps a window of at least 2048 counters', () => {
    expect(REPLAY_WINDOW).toBeGreaterThanOrEqual(2048);
  });

  it('accepts increasing counters from 0 and refuses duplicates', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 5000; c++) expect(accept(w, c)).toBe(true);
    for (const c of [0, 1, 4999, 4000]) expect(accept(w, c)).toBe(false);
  });

  it('accepts reordering within the window once, and refuses counters older than the window', () => {
    const w = new ReplayWindow();
    expect(accept(w, 10_000)).toBe(true);
    expect(accept(w, 10_000 - REPLAY_WINDOW)).toBe(true); // the oldest still inside
    expect(accept(w, 10_000 - REPLAY_WINDOW - 1)).toBe(false); // too old
    expect(accept(w, 9_999)).toBe(true);
    expect(accept(w, 9_999)).toBe(false);
    // Shuffled delivery of a block entirely inside the window: all accepted once.
    const order = Array.from({ length: 2048 }, (_, i) => 10_001 + ((i * 769) % 2048));
    for (const c of order) expect(accept(w, c)).toBe(true);
    for (const c of order) expect(accept(w, c)).toBe(false);
  });

  it('forgets bits that slid out of the window, so a far jump does not let old counters in twice', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 100; c++) accept(w, c);
    expect(accept(w, 1_000_000)).toBe(true);
    expect(accept(w, 50)).toBe(false); // too old now
    expect(accept(w, 1_000_000 - 1)).toBe(true); // in window, never seen (the ring was cleared)
    expect(accept(w, 1_000_000 - 8000)).toBe(true);
  });

  it('handles counters across the 2^32 boundary and far beyond 2^53 exactly', () => {
    const w = new ReplayWindow();
    expect(w.accept(0, 0xffffffff)).toBe(true);
    expect(w.accept(1, 0)).toBe(true);
    expect(w.accept(0, 0xffffffff)).toBe(false);
    expect(w.accept(0, 0xffffffff - 100)).toBe(true);
    expect(w.accept(0, 0xffffffff - REPLAY_WINDOW)).toBe(false); // exactly WINDOW+1 behind (1:0)
    // Near 2^64, where doubles cannot tell neighbouring counters apart.
    const hi = 0xffffffff;
    expect(w.accept(hi, 0xffffd000)).toBe(true);
    expect(w.accept(hi, 0xffffd001)).toBe(true);
    expect(w.accept(hi, 0xffffcfff)).toBe(true);
    expect(w.accept(hi, 0xffffd001)).toBe(false);
    expect(w.accept(0, 5)).toBe(false);
  });

  it('treats counters at or past REJECT_AFTER_MESSAGES (2^64 − 2^13 − 1) as rejected', () => {
    expect(counterRejected(0xffffffff, 0xffffdffe)).toBe(false);
    expect(counterRejected(0xffffffff, 0xffffdfff)).toBe(true);
    expect(counterRejected(0xffffffff, 0xffffffff)).toBe(true);
    expect(counterRejected(0xfffffffe, 0xffffffff)).toBe(false);
  });
});
