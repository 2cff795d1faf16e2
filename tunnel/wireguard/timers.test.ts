/**
 * Every timer rule of whitepaper §6, driven with a fake clock. Times are relative to T0; the default timers are
 * the whitepaper's (REKEY_TIMEOUT 5 s, KEEPALIVE 10 s, REKEY_AFTER 120 s, REJECT_AFTER 180 s, ATTEMPT 90 s).
 */
import { describe, expect, it } from 'vitest';
import { readIndex } from './handshake.js';
import type { PeerState } from './peer.js';
import { clockAt, ipv4Packet, runUntil, sendPacket, testPair, type Clocked, type TestSide } from './testing.js';

const T0 = 1_700_000_000_000;
const SECOND = 1000;
const toB = () => ipv4Packet('10.0.0.1', '10.0.0.2', 64);
const toA = () => ipv4Packet('10.0.0.2', '10.0.0.1', 64);
const state = (side: TestSide) => side.peer as PeerState;

const sent = (clock: Clocked, from: 'a' | 'b', type: number, size?: number) =>
  clock.wire.filter((w) => w.from === from && w.type === type && (size === undefined || w.size === size));
const times = (records: { at: number }[]) => records.map((r) => r.at - T0);
const eventTimes = (clock: Clocked, side: 'a' | 'b', type: string) =>
  clock.events.filter((e) => e.side === side && e.type === type).map((e) => e.at - T0);

/**
 * A handshake at T0 with A as initiator (its first packet carried as data), then quiet until T0 + 10 s, when B's
 * passive keepalive for that packet has gone out: from there on, only the tests' own traffic arms timers.
 */
function established(options: Parameters<typeof testPair>[0] = {}) {
  const pair = testPair(options);
  const clock = clockAt(T0);
  expect(pair.a.device.encapsulate(toB(), T0).kind).toBe('queued');
  runUntil(pair.a, pair.b, clock, SETTLED);
  expect(pair.a.peer.hasSession && pair.b.peer.hasSession).toBe(true);
  expect(times(sent(clock, 'b', 4, 32))).toEqual([10 * SECOND]);
  clock.wire.length = 0;
  clock.events.length = 0;
  return { ...pair, clock };
}
const SETTLED = T0 + 10 * SECOND;

describe('handshake retries (REKEY_TIMEOUT, jitter, REKEY_ATTEMPT_TIME)', () => {
  it('retries every REKEY_TIMEOUT + [0, 334) ms with a fresh initiation, then gives up after 90 s', () => {
    const { a, b } = testPair();
    const clock = clockAt(T0);
    expect(a.device.encapsulate(toB(), T0).kind).toBe('queued');
    expect(a.device.encapsulate(toB(), T0).kind).toBe('queued');
    const unreachable = () => false;
    runUntil(a, b, clock, T0 + 200 * SECOND, unreachable);

    const initiations = sent(clock, 'a', 1);
    const at = times(initiations);
    expect(at[0]).toBe(0);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(5000);
      expect(gap).toBeLessThan(5334);
    }
    expect(new Set(gaps).size).toBeGreaterThan(1); // the jitter really varies
    expect(at.at(-1)!).toBeLessThan(90 * SECOND);
    // Each retry is a new handshake: new sender index and ephemeral key.
    expect(new Set(initiations.map((w) => readIndex(w.data, 4))).size).toBe(initiations.length);
    expect(new Set(initiations.map((w) => Buffer.from(w.data.subarray(8, 40)).toString('hex'))).size).toBe(
      initiations.length,
    );

    const failed = eventTimes(clock, 'a', 'handshake_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!).toBeGreaterThanOrEqual(90 * SECOND);
    expect(failed[0]!).toBeLessThan(90 * SECOND + 5334);
    expect(a.device.stats().drops.handshake_failed).toBe(2); // the two staged packets
  });

  it('does not restart the attempt budget for packets arriving during it, and starts anew after giving up', () => {
    const { a, b } = testPair();
    const clock = clockAt(T0);
    const unreachable = () => false;
    for (let t = 0; t <= 120; t++) {
      runUntil(a, b, clock, T0 + t * SECOND, unreachable);
      a.device.encapsulate(toB(), clock.now);
    }
    const failed = eventTimes(clock, 'a', 'handshake_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!).toBeLessThan(90 * SECOND + 5334);
    // The next packet after the failure started a new attempt at once.
    expect(times(sent(clock, 'a', 1)).filter((t) => t > failed[0]!)[0]).toBe(Math.ceil(failed[0]! / 1000) * 1000);
  });

  it('never sends initiations closer than REKEY_TIMEOUT: an early trigger waits for it', () => {
    const { a, b } = testPair();
    const clock = clockAt(T0);
    a.device.encapsulate(toB(), T0);
    runUntil(a, b, clock, T0 + 1000);
    // One second after the handshake, a trigger (here: REKEY_AFTER_MESSAGES) must wait until T0 + 5 s.
    state(a).current!.sendHi = 2 ** 28;
    expect(sendPacket(a, b, clock, toB())).toMatchObject({ kind: 'packet' });
    runUntil(a, b, clock, T0 + 10_000);
    expect(times(sent(clock, 'a', 1))).toEqual([0, 5000]);
  });

  it('stops retrying once the response arrives', () => {
    const { a, b } = testPair();
    const clock = clockAt(T0);
    a.device.encapsulate(toB(), T0);
    // The first two initiations are lost, the third gets through.
    let lost = 0;
    runUntil(a, b, clock, T0 + 60 * SECOND, (from, data) => !(from === 'a' && data[0] === 1 && lost++ < 2));
    expect(sent(clock, 'a', 1)).toHaveLength(3);
    expect(eventTimes(clock, 'a', 'handshake_completed')).toHaveLength(1);
    // The staged packet arrived.
    expect(clock.wire.some((w) => w.from === 'a' && w.type === 4 && w.result?.kind === 'packet')).toBe(true);
  });
});

describe('rekeying (REKEY_AFTER_TIME, REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES, REJECT_AFTER_MESSAGES)', () => {
  it('has the session initiator rekey on the first send after REKEY_AFTER_TIME; the responder never rekeys by time', () => {
    const { a, b, clock } = established();
    for (let t = 1; t <= 130; t++) {
      runUntil(a, b, clock, T0 + t * SECOND);
      expect(sendPacket(a, b, clock, toB())).toMatchObject({ kind: 'packet' });
      expect(sendPacket(b, a, clock, toA())).toMatchObject({ kind: 'packet' });
    }
    runUntil(a, b, clock, T0 + 131 * SECOND);
    expect(times(sent(clock, 'a', 1))).toEqual([121 * SECOND]);
    expect(sent(clock, 'b', 1)).toHaveLength(0);
    expect(eventTimes(clock, 'b', 'handshake_completed')).toEqual([121 * SECOND]);
  });

  it('rotates sessions: the responder keeps `next` until confirmed, and the previous session still decrypts', () => {
    const { a, b, clock } = established();
    runUntil(a, b, clock, T0 + 121 * SECOND);
    const oldIndex = state(b).current!.localIndex;
    const inFlight = a.device.encapsulate(toB(), clock.now); // sent on the old session; triggers the rekey
    expect(inFlight.kind).toBe('datagram');
    // Lose A's confirming keepalive: B must hold the new session as `next`, still sending on the old one.
    runUntil(a, b, clock, clock.now, (from, data) => !(from === 'a' && data[0] === 4));
    expect(state(a).current!.remoteIndex).not.toBe(oldIndex);
    expect(state(b).next).toBeDefined();
    expect(state(b).current!.localIndex).toBe(oldIndex);
    if (inFlight.kind !== 'datagram') return;
    expect(b.device.handleDatagram(inFlight.data, a.address, clock.now).kind).toBe('packet');
    // A's first data on the new session confirms it: current moves to previous.
    expect(sendPacket(a, b, clock, toB())).toMatchObject({ kind: 'packet' });
    expect(state(b).next).toBeUndefined();
    expect(state(b).previous!.localIndex).toBe(oldIndex);
    expect(state(b).current!.localIndex).not.toBe(oldIndex);
    expect(b.device.handleDatagram(inFlight.data, a.address, clock.now)).toEqual({
      kind: 'dropped',
      reason: 'replayed',
    });
  });

  it('stops using a session at REJECT_AFTER_TIME: sending handshakes anew, receiving drops, an event tells', () => {
    const { a, b, clock } = established();
    runUntil(a, b, clock, T0 + 170 * SECOND);
    // B, the responder, does not rekey by time; its late packet is held back until the session has expired.
    const late = b.device.encapsulate(toA(), clock.now);
    expect(late.kind).toBe('datagram');
    runUntil(a, b, clock, T0 + 180 * SECOND);
    expect(eventTimes(clock, 'a', 'session_expired')).toEqual([180 * SECOND]);
    expect(eventTimes(clock, 'b', 'session_expired')).toEqual([180 * SECOND]);
    if (late.kind !== 'datagram') return;
    expect(a.device.handleDatagram(late.data, b.address, clock.now)).toEqual({
      kind: 'dropped',
      reason: 'session_expired',
    });
    expect(b.device.encapsulate(toA(), clock.now).kind).toBe('queued');
    runUntil(a, b, clock, clock.now + 1);
    expect(times(sent(clock, 'b', 1))).toEqual([180 * SECOND]);
    expect(eventTimes(clock, 'b', 'handshake_completed')).toEqual([180 * SECOND]);
  });

  it('has the initiator rekey when receiving on a session older than 165 s, once', () => {
    const { a, b, clock } = established();
    const lose = (from: 'a' | 'b', data: Uint8Array) => data[0] !== 1;
    runUntil(a, b, clock, T0 + 165 * SECOND);
    expect(sendPacket(b, a, clock, toA())).toMatchObject({ kind: 'packet' });
    runUntil(a, b, clock, clock.now, lose);
    expect(sent(clock, 'a', 1)).toHaveLength(0); // not older than 165 s yet
    runUntil(a, b, clock, T0 + 165 * SECOND + 1, lose);
    expect(sendPacket(b, a, clock, toA())).toMatchObject({ kind: 'packet' });
    runUntil(a, b, clock, clock.now, lose);
    expect(times(sent(clock, 'a', 1))).toEqual([165 * SECOND + 1]);
    // Further receipts do not initiate again (the retry timer alone goes on).
    runUntil(a, b, clock, clock.now + 1000, lose);
    expect(sendPacket(b, a, clock, toA())).toMatchObject({ kind: 'packet' });
    runUntil(a, b, clock, clock.now + 1000, lose);
    expect(sent(clock, 'a', 1)).toHaveLength(1);
  });

  it('rekeys after REKEY_AFTER_MESSAGES (2^60) on either side, still sending meanwhile', () => {
    const { a, b, clock } = established();
    state(b).current!.sendHi = 2 ** 28; // 2^60 messages sent
    expect(sendPacket(b, a, clock, toA())).toMatchObject({ kind: 'packet' });
    runUntil(a, b, clock, clock.now + 1);
    expect(sent(clock, 'b', 1)).toHaveLength(1);
    expect(eventTimes(clock, 'b', 'handshake_completed')).toHaveLength(1);
    expect(state(b).current!.sendHi).toBe(0);
  });

  it('never sends or accepts counters at REJECT_AFTER_MESSAGES (2^64 − 2^13 − 1)', () => {
    const { a, b, clock } = established();
    const keypair = state(a).current!;
    keypair.sendHi = 0xffffffff;
    keypair.sendLo = 0xffffdffe; // the last allowed counter
    expect(sendPacket(a, b, clock, toB(), () => true)).toMatchObject({ kind: 'packet' });
    expect(keypair.sendExhausted).toBe(true);
    const lose = () => false;
    expect(a.device.encapsulate(toB(), clock.now).kind).toBe('queued');
    runUntil(a, b, clock, clock.now, lose);
    expect(sent(clock, 'a', 1)).toHaveLength(1);
    // A message sealed with the forbidden counter is refused before decryption.
    const forbidden = keypair.seal(toB(), 96);
    expect(b.device.handleDatagram(forbidden, a.address, clock.now)).toEqual({
      kind: 'dropped',
      reason: 'counter_limit',
    });
  });
});

describe('keepalives (KEEPALIVE_TIMEOUT, persistent keepalive)', () => {
  it('sends a passive keepalive KEEPALIVE_TIMEOUT after receiving data when nothing else was sent', () => {
    const { a, b, clock } = established();
    runUntil(a, b, clock, T0 + 11 * SECOND);
    sendPacket(a, b, clock, toB());
    runUntil(a, b, clock, T0 + 40 * SECOND);
    expect(times(sent(clock, 'b', 4, 32))).toEqual([21 * SECOND]);
    expect(sent(clock, 'a', 4, 32)).toHaveLength(0); // a keepalive is not data: it asks for no answer
  });

  it('sends no passive keepalive when data went back in time', () => {
    const { a, b, clock } = established();
    runUntil(a, b, clock, T0 + 11 * SECOND);
    sendPacket(a, b, clock, toB());
    runUntil(a, b, clock, T0 + 15 * SECOND);
    sendPacket(b, a, clock, toA());
    runUntil(a, b, clock, T0 + 40 * SECOND);
    expect(times(sent(clock, 'b', 4, 32))).toEqual([]);
    expect(times(sent(clock, 'a', 4, 32))).toEqual([25 * SECOND]); // A got data at 15 s and answered nothing
  });

  it('handshakes anew when data sent gets no answer for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (+ jitter)', () => {
    const { a, b, clock } = established();
    runUntil(a, b, clock, T0 + 11 * SECOND);
    const bIsSilent = (from: 'a' | 'b') => from === 'a';
    sendPacket(a, b, clock, toB());
    runUntil(a, b, clock, T0 + 30 * SECOND, bIsSilent);
    const at = times(sent(clock, 'a', 1));
    expect(at).toHaveLength(1);
    expect(at[0]!).toBeGreaterThanOrEqual(26 * SECOND);
    expect(at[0]!).toBeLessThan(26 * SECOND + 334);
  });

  it('sends persistent keepalives every interval of silence, starting as soon as it is configured', () => {
    const { a, b } = testPair({ aPeer: { persistentKeepalive: 25 } });
    const clock = clockAt(T0);
    runUntil(a, b, clock, T0 + 80 * SECOND);
    expect(times(sent(clock, 'a', 1))).toEqual([0]); // the first keepalive needed a session
    expect(times(sent(clock, 'a', 4, 32))).toEqual([0, 25 * SECOND, 50 * SECOND, 75 * SECOND]);
    expect(sent(clock, 'b', 4)).toHaveLength(0);
    // Turning it off stops them.
    a.device.upsertPeer({ publicKey: b.publicKey, allowedIps: ['10.0.0.0/24'], persistentKeepalive: 0 });
    runUntil(a, b, clock, T0 + 200 * SECOND);
    expect(times(sent(clock, 'a', 4, 32)).filter((t) => t > 80 * SECOND)).toEqual([]);
  });
});

describe('key erasure (3 × REJECT_AFTER_TIME)', () => {
  it('zeroes every key 540 s after the last session was derived', () => {
    const { a, b, clock } = established();
    const keypair = state(b).current!;
    // Sealed directly on the session, so that no send timer is armed by it.
    const sealed = state(a).current!.seal(toB(), 96);
    runUntil(a, b, clock, T0 + 540 * SECOND - 1);
    expect(b.peer.hasSession).toBe(true);
    runUntil(a, b, clock, T0 + 540 * SECOND);
    expect(a.peer.hasSession || b.peer.hasSession).toBe(false);
    for (const key of keypair.keyMaterial) expect(key.every((byte) => byte === 0)).toBe(true);
    expect(b.device.handleDatagram(sealed, a.address, clock.now)).toEqual({
      kind: 'dropped',
      reason: 'unknown_index',
    });
    expect(b.device.pollTimeout()).toBeUndefined();
  });

  it('is postponed by every new session', () => {
    const { a, b, clock } = established();
    for (let t = 1; t <= 600; t++) {
      runUntil(a, b, clock, T0 + t * SECOND);
      if (t % 10 === 0) sendPacket(a, b, clock, toB());
    }
    expect(a.peer.hasSession && b.peer.hasSession).toBe(true);
    expect(eventTimes(clock, 'a', 'handshake_completed').length).toBeGreaterThanOrEqual(4);
  });
});
