/**
 * Password guessing limits for the sign-in form: failures are counted per account (the email typed) and per client
 * address in a sliding window; a key with `maxFailures` failures inside the window is refused — before the password
 * is checked — until its oldest failure leaves the window. Per account stops guessing one password from many
 * addresses; per address stops one address trying many accounts (a looser limit: several people may share a NAT).
 * A successful sign-in clears the account's failures (not the address's).
 *
 * In memory, per portal instance: with N instances behind a load balancer an attacker gets at most N times the
 * budget, which is still a handful of guesses per window. Memory is bounded: at most `maxKeys` keys per kind, the
 * least recently failed forgotten first. No clock inside: callers pass `now`.
 */
export interface SignInThrottleLimits {
  windowMs: number;
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  maxKeys: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInThrottleLimits = {
  windowMs: 15 * 60_000,
  maxFailuresPerAccount: 5,
  maxFailuresPerAddress: 20,
  maxKeys: 10_000,
};

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

export class SignInThrottle {
  readonly #accounts: FailureLog;
  readonly #addresses: FailureLog;

  constructor(limits: SignInThrottleLimits = DEFAULT_SIGN_IN_LIMITS) {
    this.#accounts = new FailureLog(limits.windowMs, limits.maxFailuresPerAccount, limits.maxKeys);
    this.#addresses = new FailureLog(limits.windowMs, limits.maxFailuresPerAddress, limits.maxKeys);
  }

  /** Whether an attempt for `account` from `address` may be checked now. */
  check(account: string, address: string, now: number): ThrottleDecision {
    const wait = Math.max(this.#accounts.waitMs(account, now), this.#addresses.waitMs(address, now));
    return wait > 0 ? { allowed: false, retryAfterMs: wait } : { allowed: true };
  }

  failed(account: string, address: string, now: number): void {
    this.#accounts.add(account, now);
    this.#addresses.add(address, now);
  }

  succeeded(account: string): void {
    this.#accounts.clear(account);
  }
}

/** Failure times per key, oldest first; the Map's order is the keys' last-failure order (for eviction). */
class FailureLog {
  readonly #failures = new Map<string, number[]>();

  constructor(
    private readonly windowMs: number,
    private readonly maxFailures: number,
    private readonly maxKeys: number,
  ) {}

  waitMs(key: string, now: number): number {
    const times = this.#recent(key, now);
    if (times.length < this.maxFailures) return 0;
    return times[times.length - this.maxFailures]! + this.windowMs - now;
  }

  add(key: string, now: number): void {
    const times = [...this.#recent(key, now), now].slice(-this.maxFailures);
    this.#failures.delete(key);
    this.#failures.set(key, times);
    if (this.#failures.size > this.maxKeys) this.#failures.delete(this.#failures.keys().next().value!);
  }

  clear(key: string): void {
    this.#failures.delete(key);
  }

  #recent(key: string, now: number): number[] {
    const times = this.#failures.get(key);
    if (times === undefined) return [];
    const recent = times.filter((t) => now - t < this.windowMs);
    if (recent.length === 0) this.#failures.delete(key);
    else if (recent.length < times.length) this.#failures.set(key, recent);
    return recent;
  }
}
