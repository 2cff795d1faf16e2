import { describe, expect, it } from 'vitest';
import { Device } from './device.js';
import { CookieGenerator } from './cookie.js';
import { generatePrivateKey, parseKey, publicKeyOf } from './keys.js';
import { LoadMonitor, SourceRateLimiter } from './load.js';
import { seededRng } from './rng.js';
import { clockAt, drainTransmits, ipv4Packet, runUntil, testPair } from './testing.js';

const T0 = 1_700_000_000_000;
const toB = () => ipv4Packet('10.0.0.1', '10.0.0.2', 64);
/** A test pair whose B is always under load: every handshake message needs a cookie. */
function loadedPair() {
  const { a, b } = testPair({ seed: 'cookie' });
  const device = new Device({ privateKey: b.privateKey, rng: seededRng('b2'), underLoadHandshakesPerSecond: 0 });
  device.upsertPeer({ publicKey: a.publicKey, allowedIps: ['10.0.0.1/32'] });
  return { a, b: { ...b, device } };
}

/** A sends an initiation to the loaded B, which answers with a cookie reply. */
function initiationAndCookieReply() {
  const { a, b } = loadedPair();
  a.device.encapsulate(toB(), T0);
  const [initiation] = drainTransmits(a.device);
  expect(b.device.handleDatagram(initiation!, a.address, T0)).toEqual({ kind: 'dropped', reason: 'cookie_required' });
  const [reply] = drainTransmits(b.device);
  return { a, b, reply: reply! };
}

describe('cookies under load', () => {
  it('answers an initiation without MAC2 with a cookie reply; the retry carries MAC2 and gets a response', () => {
    const { a, b } = loadedPair();
    const clock = clockAt(T0);
    a.device.encapsulate(toB(), T0);
    runUntil(a, b, clock, T0 + 6000);
    expect(clock.wire.map((w) => `${w.from}${w.type}@${w.at - T0 < 5000 ? 0 : 'retry'}`)).toEqual([
      'a1@0',
      'b3@0', // cookie reply instead of a response
      'a1@retry', // with MAC2
      'b2@retry',
      'a4@retry', // the staged packet
    ]);
    expect(clock.wire[0]!.result).toEqual({ kind: 'dropped', reason: 'cookie_required' });
    expect(clock.wire[1]!.result).toEqual({ kind: 'consumed' });
    expect(clock.wire[4]!.result?.kind).toBe('packet');
    expect(b.device.stats().cookieRepliesSent).toBe(1);
  });

  it('binds the cookie to the source address and port', () => {
    const { a, b, reply } = initiationAndCookieReply();
    const bLoaded = b.device;
    expect(a.device.handleDatagram(reply, b.address, T0)).toEqual({ kind: 'consumed' });
    a.device.handleTimeout(T0 + 6000);
    const [retry] = drainTransmits(a.device);
    const elsewhere = { host: a.address.host, port: a.address.port + 1 };
    expect(bLoaded.handleDatagram(retry!, elsewhere, T0 + 6000)).toEqual({
      kind: 'dropped',
      reason: 'cookie_required',
    });
    expect(bLoaded.handleDatagram(retry!, a.address, T0 + 6000)).toEqual({ kind: 'consumed' });
  });

  it('refuses tampered, replayed and unsolicited cookie replies', () => {
    const { a, b, reply } = initiationAndCookieReply();
    const tampered = Uint8Array.from(reply);
    tampered[40]! ^= 1;
    expect(a.device.handleDatagram(tampered, b.address, T0)).toEqual({ kind: 'dropped', reason: 'bad_cookie_reply' });
    expect(a.device.handleDatagram(reply, b.address, T0)).toEqual({ kind: 'consumed' });
    expect(a.device.handleDatagram(reply, b.address, T0)).toEqual({ kind: 'dropped', reason: 'bad_cookie_reply' });
    const unknown = Uint8Array.from(reply);
    unknown[4]! ^= 0xff;
    expect(a.device.handleDatagram(unknown, b.address, T0)).toEqual({ kind: 'dropped', reason: 'unknown_index' });
  });

  it('uses a received cookie for COOKIE_REFRESH_TIME (120 s) only', () => {
    const bKey = generatePrivateKey(seededRng('k'));
    const generator = new CookieGenerator(parseKeyOrThrow(publicKeyOf(bKey)), 120_000);
    const checker = new Device({ privateKey: bKey, rng: seededRng('c'), underLoadHandshakesPerSecond: 0 });
    const message = new Uint8Array(148);
    message[0] = 1;
    generator.addMacs(message, T0);
    checker.handleDatagram(message, { host: 'h', port: 1 }, T0);
    const [reply] = drainTransmits(checker);
    expect(generator.consumeReply(reply!, T0)).toBe(true);
    generator.addMacs(message, T0 + 119_999);
    expect(message.subarray(132).some((byte) => byte !== 0)).toBe(true);
    generator.addMacs(message, T0 + 120_000);
    expect(message.subarray(132).every((byte) => byte === 0)).toBe(true);
  });

  it('rate-limits handshakes per source host under load even with valid cookies', () => {
    const { b } = testPair({ seed: 'cookie' });
    const gateway = new Device({ privateKey: b.privateKey, rng: seededRng('gw'), underLoadHandshakesPerSecond: 0 });
    const host = '203.0.113.7';
    const clients = Array.from({ length: 8 }, (_, i) => {
      const key = generatePrivateKey(seededRng(`client${i}`));
      gateway.upsertPeer({ publicKey: publicKeyOf(key), allowedIps: [`10.1.0.${i + 1}/32`] });
      const device = new Device({ privateKey: key, rng: seededRng(`c${i}`) });
      device.upsertPeer({ publicKey: b.publicKey, endpoint: b.address, allowedIps: ['10.1.0.0/16'] });
      return { device, from: { host, port: 1000 + i } };
    });
    // Every client gets a cookie first…
    for (const c of clients) {
      c.device.encapsulate(ipv4Packet('10.1.0.1', '10.1.0.200', 8), T0);
      gateway.handleDatagram(drainTransmits(c.device)[0]!, c.from, T0);
      c.device.handleDatagram(drainTransmits(gateway)[0]!, b.address, T0);
    }
    // …then their retries (with MAC2) arrive within the same instant: a burst of 5 per host gets through.
    const outcomes = clients.map((c) => {
      c.device.handleTimeout(T0 + 6000);
      return gateway.handleDatagram(drainTransmits(c.device)[0]!, c.from, T0 + 6000);
    });
    expect(outcomes.filter((o) => o.kind === 'consumed')).toHaveLength(5);
    expect(outcomes.filter((o) => o.kind === 'dropped' && o.reason === 'rate_limited')).toHaveLength(3);
  });
});

describe('load detection', () => {
  it('is under load for a second after the handshake rate exceeds its threshold', () => {
    const load = new LoadMonitor(3);
    expect([1, 2, 3].map(() => load.record(T0))).toEqual([false, false, false]);
    expect(load.record(T0 + 10)).toBe(true);
    expect(load.isUnderLoad(T0 + 1009)).toBe(true);
    expect(load.isUnderLoad(T0 + 1010)).toBe(false);
  });

  it('refills each host at 20 per second after a burst of 5', () => {
    const limiter = new SourceRateLimiter();
    expect(Array.from({ length: 6 }, () => limiter.allow('h', T0))).toEqual([true, true, true, true, true, false]);
    expect(limiter.allow('other', T0)).toBe(true);
    expect(limiter.allow('h', T0 + 49)).toBe(false);
    expect(limiter.allow('h', T0 + 50)).toBe(true);
  });
});

function parseKeyOrThrow(text: string): Uint8Array {
  const parsed = parseKey(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.key;
}
