/**
 * Handshake load control (whitepaper §5.3). A handshake costs several X25519 operations, so a flood of them is the
 * cheapest way to exhaust a WireGuard endpoint. The device counts authenticated-looking (valid MAC1) handshake
 * messages per second; above a threshold it is "under load" for UNDER_LOAD_AFTER_TIME, demands MAC2 cookies, and
 * limits each source address to a small rate, like wireguard-go's handshake queue and rate limiter.
 */
import { UNDER_LOAD_AFTER_TIME } from './constants.js';

export class LoadMonitor {
  private windowStart = -Infinity;
  private count = 0;
  private underLoadUntil = -Infinity;

  constructor(private readonly handshakesPerSecond: number) {}

  /** Records one handshake message and says whether the device is now under load. */
  record(now: number): boolean {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.count = 0;
    }
    if (++this.count > this.handshakesPerSecond) this.underLoadUntil = now + UNDER_LOAD_AFTER_TIME;
    return this.isUnderLoad(now);
  }

  isUnderLoad(now: number): boolean {
    return now < this.underLoadUntil;
  }
}

/** Token bucket per source host, applied to handshakes under load (those already carrying a valid cookie). */
export class SourceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond = 20,
    private readonly burst = 5,
    private readonly maxEntries = 4096,
  ) {}

  allow(host: string, now: number): boolean {
    let bucket = this.buckets.get(host);
    if (!bucket) {
      if (this.buckets.size >= this.maxEntries) this.prune(now);
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(host, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.perSecond) / 1000);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets buckets that have refilled (idle for a second or more): they would start full anyway. */
  private prune(now: number): void {
    for (const [host, bucket] of this.buckets) if (now - bucket.at >= 1000) this.buckets.delete(host);
  }
}
