/**
 * Fuzzing the Device's inputs: random datagrams, and valid handshake, cookie and transport messages mutated by
 * flips, truncation and extension (some with MAC1 recomputed, so the mutation reaches the AEADs). Nothing may
 * throw, every drop must be counted under a known reason, and only untouched transport messages may deliver a packet.
 * FUZZ_RUNS scales the run count (default 100,000).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CookieGenerator } from './cookie.js';
import { Device, type DatagramResult } from './device.js';
import { parseKey } from './keys.js';
import { seededRng } from './rng.js';
import { drainTransmits, exchange, ipv4Packet, testPair } from './testing.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);
const T0 = 1_700_000_000_000;

const REASONS = new Set([
  'truncated',
  'oversized',
  'unknown_type',
  'bad_mac1',
  'cookie_required',
  'rate_limited',
  'decrypt_failed',
  'unknown_peer',
  'stale_timestamp',
  'initiation_flood',
  'unknown_index',
  'unexpected_response',
  'bad_cookie_reply',
  'session_expired',
  'counter_limit',
  'replayed',
  'invalid_inner_packet',
  'source_not_allowed',
]);

/** Valid messages of every type, captured once from two devices talking (B under load, to get a cookie reply). */
function corpus() {
  const { a, b } = testPair({ seed: 'fuzz' });
  a.device.encapsulate(ipv4Packet('10.0.0.1', '10.0.0.2', 30), T0);
  const [initiation] = drainTransmits(a.device);
  const loaded = new Device({ privateKey: b.privateKey, rng: seededRng('fuzz-load'), underLoadHandshakesPerSecond: 0 });
  loaded.upsertPeer({ publicKey: a.publicKey, allowedIps: ['10.0.0.1/32'] });
  loaded.handleDatagram(initiation!, a.address, T0);
  const [cookieReply] = drainTransmits(loaded);
  b.device.handleDatagram(initiation!, a.address, T0);
  const [response] = drainTransmits(b.device);
  a.device.handleDatagram(response!, b.address, T0);
  exchange(a, b, T0);
  const transport = (payload: number) => {
    const result = a.device.encapsulate(ipv4Packet('10.0.0.1', '10.0.0.2', payload), T0);
    if (result.kind !== 'datagram') throw new Error('no session');
    return result.data;
  };
  return { a, b, messages: [initiation!, response!, cookieReply!, transport(0), transport(100)], transport };
}

const isResult = (r: DatagramResult) =>
  r.kind === 'packet' || r.kind === 'consumed' || (r.kind === 'dropped' && REASONS.has(r.reason));

describe('Device under fuzzed input', () => {
  it(`never throws and counts every drop (${RUNS} datagrams)`, () => {
    const { a, b, messages, transport } = corpus();
    const bKey = parseKey(b.publicKey);
    const aKey = parseKey(a.publicKey);
    if (!bKey.ok || !aKey.ok) throw new Error('keys');
    const macForB = new CookieGenerator(bKey.key, 120_000);
    const macForA = new CookieGenerator(aKey.key, 120_000);
    let delivered = 0;

    const mutation = fc.record({
      base: fc.nat(messages.length - 1),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
      cut: fc.option(fc.nat(), { freq: 4 }),
      extra: fc.uint8Array({ maxLength: 8 }),
      remac: fc.nat(3).map((n) => n === 0),
      toA: fc.boolean(),
    });
    const randomDatagram = fc.tuple(fc.integer({ min: 0, max: 5 }), fc.uint8Array({ maxLength: 200 }));

    fc.assert(
      fc.property(fc.oneof({ arbitrary: mutation, weight: 3 }, { arbitrary: randomDatagram, weight: 1 }), (input) => {
        let data: Uint8Array;
        let target = b.device;
        let fresh = false;
        if (Array.isArray(input)) {
          const [type, body] = input;
          data = Uint8Array.of(type, 0, 0, 0, ...body);
        } else {
          // Fresh transport messages each time, so that unmutated ones must be delivered, not refused as replays.
          const base = input.base >= 3 ? transport(input.base === 3 ? 0 : 100) : messages[input.base]!;
          data = Uint8Array.from(base);
          for (const [at, xor] of input.flips) data[at % data.length]! ^= xor;
          if (input.cut !== null) data = data.subarray(0, input.cut % (data.length + 1));
          if (input.extra.length) data = Uint8Array.of(...data, ...input.extra);
          // Recomputing MAC1 on a handshake message lets the mutation reach the DH and AEAD checks (rarely: slow).
          if (input.remac && input.base <= 1 && data.length === base.length && data[0] === base[0]) {
            (input.base === 0 ? macForB : macForA).addMacs(data, T0);
            if (input.base === 1) target = a.device;
          }
          if (input.toA && input.base === 2) target = a.device;
          fresh = input.base >= 3 && Buffer.from(data).equals(Buffer.from(base));
        }
        const result = target.handleDatagram(data, { host: '192.0.2.1', port: 40000 }, T0);
        expect(isResult(result)).toBe(true);
        if (result.kind === 'packet') {
          expect(fresh).toBe(true);
          delivered++;
        }
        drainTransmits(a.device);
        drainTransmits(b.device);
      }),
      { numRuns: RUNS, seed: 42 },
    );

    expect(delivered).toBeGreaterThan(0);
    for (const device of [a.device, b.device]) {
      const drops = device.stats().drops;
      for (const reason of Object.keys(drops)) expect(REASONS.has(reason)).toBe(true);
    }
  });

  it(`encapsulate never throws on arbitrary bytes (${Math.ceil(RUNS / 10)} packets)`, () => {
    const { a } = corpus();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.constantFrom(0x45, 0x60, 0x00, 0xff), (body, first) => {
        const packet = Uint8Array.of(first, ...body);
        const result = a.device.encapsulate(packet, T0);
        expect(['datagram', 'queued', 'dropped']).toContain(result.kind);
      }),
      { numRuns: Math.ceil(RUNS / 10), seed: 7 },
    );
  });
});
