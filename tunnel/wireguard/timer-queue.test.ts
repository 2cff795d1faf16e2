import { describe, expect, it } from 'vitest';
import { TimerQueue, type Schedulable } from './timer-queue.js';

interface Item extends Schedulable {
  id: number;
  /** The model: when the item really wants to wake up. */
  due: number;
}

describe('TimerQueue', () => {
  it('agrees with a brute-force model under random scheduling, earlier and later deadlines and cancels', () => {
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const queue = new TimerQueue<Item>();
    const items: Item[] = Array.from({ length: 200 }, (_, id) => ({ id, due: Infinity, scheduledAt: Infinity }));
    let now = 0;
    for (let step = 0; step < 5000; step++) {
      const item = items[random(items.length)]!;
      const action = random(4);
      if (action === 0) {
        item.due = Infinity;
        queue.cancel(item);
      } else {
        // As peers do: the deadline may move earlier (scheduled at once) or later (a stale wake-up remains).
        item.due = now + random(1000);
        queue.schedule(item, item.due);
      }
      if (random(5) === 0) {
        now += random(300);
        const woken = new Set(queue.takeDue(now).map((i) => i.id));
        for (const i of items) {
          if (i.due <= now) {
            expect(woken.has(i.id)).toBe(true); // nothing due is missed
            i.due = Infinity;
          } else if (woken.has(i.id) && i.due !== Infinity) {
            queue.schedule(i, i.due); // a spurious early wake-up: the owner re-arms
          }
        }
      }
      const earliest = Math.min(...items.map((i) => i.due));
      const peek = queue.peek();
      // pollTimeout may be early (a stale but live entry), never late.
      if (earliest === Infinity) continue;
      expect(peek).toBeDefined();
      expect(peek!).toBeLessThanOrEqual(earliest);
    }
  });

  it('returns each due item once and nothing after a cancel', () => {
    const queue = new TimerQueue<Item>();
    const a: Item = { id: 1, due: 5, scheduledAt: Infinity };
    const b: Item = { id: 2, due: 7, scheduledAt: Infinity };
    queue.schedule(a, 10);
    queue.schedule(a, 5); // earlier: the 10 entry is now stale
    queue.schedule(b, 7);
    expect(queue.peek()).toBe(5);
    expect(queue.takeDue(10).map((i) => i.id)).toEqual([1, 2]);
    expect(queue.peek()).toBeUndefined();
    queue.schedule(a, 20);
    queue.cancel(a);
    expect(queue.takeDue(100)).toEqual([]);
  });
});
