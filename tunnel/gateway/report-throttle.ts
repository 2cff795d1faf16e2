import type { AddressKey } from '../packet/index.js';

/**
 * At most one report per key per interval (the gateway's `nat_missing` per client and address), remembering at most
 * `maxKeys` keys: a client sending to ever new addresses cannot grow it. When it is full of keys reported within the
 * interval, new keys are refused until some age out.
 */
export class ReportThrottle {
  /** Key → when it was last reported; insertion order is report order (a re-report moves the key to the end). */
  readonly #reportedAt = new Map<AddressKey, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly maxKeys: number,
  ) {}

  /** Whether to report `key` now; if so, it counts as reported. */
  allow(key: AddressKey, now: number): boolean {
    const last = this.#reportedAt.get(key);
    if (last !== undefined && now - last < this.intervalMs) return false;
    if (last === undefined && this.#reportedAt.size >= this.maxKeys) {
      this.#forgetReportedBefore(now - this.intervalMs);
      if (this.#reportedAt.size >= this.maxKeys) return false;
    }
    this.#reportedAt.delete(key);
    this.#reportedAt.set(key, now);
    return true;
  }

  #forgetReportedBefore(cutoff: number): void {
    for (const [key, at] of this.#reportedAt) {
      if (at > cutoff) return;
      this.#reportedAt.delete(key);
    }
  }
}
