import { describe, expect, it } from 'vitest';
import { ResolutionScheduler } from './resolutions.js';

const T0 = 5_000;

describe('ResolutionScheduler', () => {
  it('asks for A and AAAA at once and completes when both answered', () => {
    const s = new ResolutionScheduler<string>();
    expect(s.request('a.test', 'w1', T0)).toBe(true);
    const a = s.pollRequest()!;
    const aaaa = s.pollRequest()!;
    expect([a.type, aaaa.type]).toEqual(['A', 'AAAA']);
    expect(s.pollRequest()).toBeUndefined();
    s.handleAnswer(a.id, { ok: true, records: [{ address: '10.0.0.1', ttl: 30 }] }, T0 + 1);
    expect(s.pollCompleted()).toBeUndefined();
    s.handleAnswer(aaaa.id, { ok: true, records: [] }, T0 + 2);
    expect(s.pollCompleted()).toEqual({
      domain: 'a.test',
      a: { ok: true, records: [{ address: '10.0.0.1', ttl: 30 }] },
      aaaa: { ok: true, records: [] },
      waiters: ['w1'],
    });
    s.handleAnswer(a.id, { ok: true, records: [] }, T0 + 3);
    expect(s.pollCompleted()).toBeUndefined();
  });

  it('joins a second request for a domain in flight', () => {
    const s = new ResolutionScheduler<string>();
    s.request('a.test', 'w1', T0);
    s.request('a.test', 'w2', T0);
    const ids = [s.pollRequest()!.id, s.pollRequest()!.id];
    expect(s.pollRequest()).toBeUndefined();
    for (const id of ids) s.handleAnswer(id, { ok: false, error: 'SERVFAIL' }, T0);
    expect(s.pollCompleted()!.waiters).toEqual(['w1', 'w2']);
  });

  it('times out after 10 s and starts queued domains as slots free up', () => {
    const s = new ResolutionScheduler<string>({ maxConcurrent: 1, maxQueued: 1, timeoutMs: 10_000 });
    s.request('a.test', 'w1', T0);
    s.request('b.test', 'w2', T0);
    expect(s.request('c.test', 'w3', T0)).toBe(false);
    s.pollRequest();
    s.pollRequest();
    expect(s.pollRequest()).toBeUndefined();
    expect(s.pollTimeout()).toBe(T0 + 10_000);
    s.handleTimeout(T0 + 9_999);
    expect(s.pollCompleted()).toBeUndefined();
    s.handleTimeout(T0 + 10_000);
    const done = s.pollCompleted()!;
    expect(done.domain).toBe('a.test');
    expect(done.a).toEqual({ ok: false, error: 'timeout' });
    expect(s.pollRequest()?.domain).toBe('b.test');
    expect(s.pollTimeout()).toBe(T0 + 20_000);
  });

  it('forgets waiters without stopping the resolution for others', () => {
    const s = new ResolutionScheduler<string>();
    s.request('a.test', 'gone', T0);
    s.request('a.test', 'stays', T0);
    s.forgetWaiters((w) => w === 'gone');
    const ids = [s.pollRequest()!.id, s.pollRequest()!.id];
    for (const id of ids) s.handleAnswer(id, { ok: true, records: [] }, T0);
    expect(s.pollCompleted()!.waiters).toEqual(['stays']);
  });
});
