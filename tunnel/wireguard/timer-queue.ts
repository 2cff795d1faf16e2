/**
 * A min-heap of (instant, item) with lazy invalidation: an item is pushed again when its next deadline moves
 * earlier, and entries that no longer match the item's `scheduledAt` are skipped when they surface. This keeps
 * `pollTimeout` O(1) and rescheduling O(log n) for thousands of peers, while the per-packet timer updates (which
 * only ever push deadlines later) cost nothing here.
 */
export interface Schedulable {
  /** The instant of this item's live heap entry; Infinity when it has none. */
  scheduledAt: number;
}

interface Entry<T> {
  at: number;
  item: T;
}

export class TimerQueue<T extends Schedulable> {
  private readonly heap: Entry<T>[] = [];

  /** Makes sure the item wakes up no later than `at`. */
  schedule(item: T, at: number): void {
    if (!(at < item.scheduledAt)) return;
    item.scheduledAt = at;
    this.push({ at, item });
  }

  /** Drops the item's pending wake-up. */
  cancel(item: T): void {
    item.scheduledAt = Infinity;
  }

  /** The earliest live instant, discarding stale entries on the way. */
  peek(): number | undefined {
    for (;;) {
      const top = this.heap[0];
      if (!top) return undefined;
      if (top.item.scheduledAt === top.at) return top.at;
      this.pop();
    }
  }

  /** Removes and returns every item due at or before `now` (each once). */
  takeDue(now: number): T[] {
    const due: T[] = [];
    for (;;) {
      const at = this.peek();
      if (at === undefined || at > now) return due;
      const { item } = this.pop()!;
      item.scheduledAt = Infinity;
      due.push(item);
    }
  }

  private push(entry: Entry<T>): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): Entry<T> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (!top || !last || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
      if (heap[child]!.at >= last.at) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
