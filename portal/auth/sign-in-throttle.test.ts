import { describe, expect, it } from 'vitest';
import { SignInThrottle } from './sign-in-throttle.js';

const limits = { windowMs: 60_000, maxFailuresPerAccount: 3, maxFailuresPerAddress: 5, maxKeys: 4 };

describe('SignInThrottle', () => {
  it('refuses an account after its failures fill the window, until the oldest leaves it', () => {
    const t = new SignInThrottle(limits);
    for (const at of [0, 10_000, 20_000]) {
      expect(t.check('alice', `10.0.0.${at / 10_000}`, at)).toEqual({ allowed: true });
      t.failed('alice', `10.0.0.${at / 10_000}`, at);
    }
    // From a fresh address too: the account is what is being guessed.
    expect(t.check('alice', '10.9.9.9', 30_000)).toEqual({ allowed: false, retryAfterMs: 30_000 });
    expect(t.check('bob', '10.9.9.9', 30_000)).toEqual({ allowed: true });
    expect(t.check('alice', '10.9.9.9', 59_999)).toEqual({ allowed: false, retryAfterMs: 1 });
    expect(t.check('alice', '10.9.9.9', 60_000)).toEqual({ allowed: true });
  });

  it('refuses an address trying many accounts', () => {
    const t = new SignInThrottle(limits);
    for (let i = 0; i < 5; i++) t.failed(`user${i}`, '192.0.2.1', i);
    expect(t.check('someone-else', '192.0.2.1', 10)).toEqual({ allowed: false, retryAfterMs: 60_000 - 10 });
    expect(t.check('someone-else', '192.0.2.2', 10)).toEqual({ allowed: true });
  });

  it('clears an account on success but keeps counting its address', () => {
    const t = new SignInThrottle(limits);
    for (let i = 0; i < 2; i++) t.failed('alice', '192.0.2.1', i);
    t.succeeded('alice');
    t.failed('alice', '192.0.2.1', 5);
    t.failed('alice', '192.0.2.1', 6);
    expect(t.check('alice', '192.0.2.7', 7).allowed).toBe(true);
    t.failed('alice', '192.0.2.1', 8);
    expect(t.check('carol', '192.0.2.1', 9).allowed).toBe(false); // the address's fifth failure
  });

  it('keeps at most maxKeys keys, forgetting the least recently failed', () => {
    const t = new SignInThrottle({ ...limits, maxFailuresPerAccount: 1 });
    for (let i = 0; i < 5; i++) t.failed(`user${i}`, `10.0.0.${i}`, i);
    expect(t.check('user0', '10.1.1.1', 10).allowed).toBe(true); // evicted
    expect(t.check('user4', '10.1.1.1', 10).allowed).toBe(false);
  });
});
