/**
 * Exponential backoff with jitter for reconnecting to the portal: the ceiling doubles per failed attempt up to
 * `maxMs`, and each delay is drawn from the upper half below the ceiling, so a fleet of clients that lost the portal
 * at the same moment does not come back in lockstep, while no client retries sooner than half the ceiling.
 */
export class Backoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: { initialMs?: number; maxMs?: number; random?: () => number } = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  /** The link works again: the next failure starts from `initialMs`. */
  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
