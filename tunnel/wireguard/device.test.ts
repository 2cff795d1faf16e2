import { describe, expect, it } from 'vitest';
import { CookieGenerator } from './cookie.js';
import { Device } from './device.js';
import { generatePrivateKey, parseKey, publicKeyOf } from './keys.js';
import { seededRng } from './rng.js';
import { drainEvents, drainTransmits, exchange, ipv4Packet, ipv6Packet, testPair, type TestSide } from './testing.js';

const T0 = 1_700_000_000_000;
const toB = (payload = 64) => ipv4Packet('10.0.0.1', '10.0.0.2', payload);
const toA = (payload = 64) => ipv4Packet('10.0.0.2', '10.0.0.1', payload);

function established() {
  const pair = testPair();
  pair.a.device.encapsulate(toB(), T0);
  exchange(pair.a, pair.b, T0);
  drainEvents(pair.a.device);
  drainEvents(pair.b.device);
  return pair;
}

function datagram(from: TestSide, packet: Uint8Array, now = T0): Uint8Array {
  const result = from.device.encapsulate(packet, now);
  if (result.kind !== 'datagram') throw new Error(`expected a datagram, got ${result.kind}`);
  return result.data;
}

/** Recomputes MAC1 of a handshake message for `receiver`, as a sender who knows its public key can. */
function remac(message: Uint8Array, receiver: TestSide): Uint8Array {
  const parsed = parseKey(receiver.publicKey);
  if (!parsed.ok) throw new Error(parsed.error);
  const copy = Uint8Array.from(message);
  new CookieGenerator(parsed.key, 120_000).addMacs(copy, T0);
  return copy;
}

const drop = (reason: string) => ({ kind: 'dropped', reason });

describe('bad datagrams are counted and dropped', () => {
  it('drops truncated, oversized and unknown-type messages', () => {
    const { a, b } = testPair();
    a.device.encapsulate(toB(), T0);
    const [initiation] = drainTransmits(a.device);
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'truncated'],
      [new Uint8Array([4, 0, 0]), 'truncated'],
      [initiation!.subarray(0, 147), 'truncated'],
      [Uint8Array.of(...initiation!, 0), 'oversized'],
      [Uint8Array.of(2, ...new Uint8Array(90)), 'truncated'],
      [Uint8Array.of(2, ...new Uint8Array(92)), 'oversized'],
      [Uint8Array.of(3, ...new Uint8Array(62)), 'truncated'],
      [Uint8Array.of(3, ...new Uint8Array(64)), 'oversized'],
      [Uint8Array.of(4, ...new Uint8Array(30)), 'truncated'],
      [new Uint8Array(70_000).fill(4, 0, 1), 'oversized'],
      [Uint8Array.of(0, 0, 0, 0, 1), 'unknown_type'],
      [Uint8Array.of(5, 0, 0, 0, 1), 'unknown_type'],
      [Uint8Array.of(1, 1, 0, 0, ...initiation!.subarray(4)), 'unknown_type'], // reserved bytes must be zero
    ];
    for (const [data, reason] of cases) expect(b.device.handleDatagram(data, a.address, T0)).toEqual(drop(reason));
    expect(b.device.stats().drops).toEqual({ truncated: 6, oversized: 4, unknown_type: 3 });
  });

  it('drops handshake messages with a forged MAC1 before any DH work', () => {
    const { a, b } = testPair();
    a.device.encapsulate(toB(), T0);
    const [initiation] = drainTransmits(a.device);
    const badMac = Uint8Array.from(initiation!);
    badMac[120]! ^= 1;
    const badBody = Uint8Array.from(initiation!);
    badBody[50]! ^= 1;
    expect(b.device.handleDatagram(badMac, a.address, T0)).toEqual(drop('bad_mac1'));
    expect(b.device.handleDatagram(badBody, a.address, T0)).toEqual(drop('bad_mac1'));
    // With MAC1 recomputed over the tampered body, the AEAD catches it.
    expect(b.device.handleDatagram(remac(badBody, b), a.address, T0)).toEqual(drop('decrypt_failed'));
    expect(b.device.stats().handshakeMessagesIn).toBe(1);
  });

  it('refuses replayed and stale initiations (TAI64N) and floods', () => {
    const { a, b } = testPair();
    a.device.encapsulate(toB(), T0);
    const [first] = drainTransmits(a.device);
    a.device.handleTimeout(T0 + 6000); // the retry: a later timestamp
    const [second] = drainTransmits(a.device);
    a.device.handleTimeout(T0 + 12000);
    const [third] = drainTransmits(a.device);
    expect(b.device.handleDatagram(second!, a.address, T0 + 6000)).toEqual({ kind: 'consumed' });
    expect(b.device.handleDatagram(second!, a.address, T0 + 7000)).toEqual(drop('stale_timestamp'));
    expect(b.device.handleDatagram(first!, a.address, T0 + 7000)).toEqual(drop('stale_timestamp'));
    // A newer initiation within 20 ms of the last one consumed is a flood.
    expect(b.device.handleDatagram(third!, a.address, T0 + 6010)).toEqual(drop('initiation_flood'));
    expect(b.device.handleDatagram(third!, a.address, T0 + 6021)).toEqual({ kind: 'consumed' });
  });

  it('refuses responses that answer nothing we sent', () => {
    const { a, b } = testPair();
    a.device.encapsulate(toB(), T0);
    b.device.handleDatagram(drainTransmits(a.device)[0]!, a.address, T0);
    const [response] = drainTransmits(b.device);
    const unknown = Uint8Array.from(response!);
    unknown[8]! ^= 0xff; // receiver index
    expect(a.device.handleDatagram(remac(unknown, a), b.address, T0)).toEqual(drop('unknown_index'));
    expect(a.device.handleDatagram(response!, b.address, T0)).toEqual({ kind: 'consumed' });
    // Again: that index now names a session, not a pending handshake.
    expect(a.device.handleDatagram(response!, b.address, T0)).toEqual(drop('unexpected_response'));
  });

  it('drops replayed, forged and misaddressed transport messages', () => {
    const { a, b } = established();
    const data = datagram(a, toB());
    expect(b.device.handleDatagram(data, a.address, T0).kind).toBe('packet');
    expect(b.device.handleDatagram(data, a.address, T0)).toEqual(drop('replayed'));
    const forged = Uint8Array.from(datagram(a, toB()));
    forged[40]! ^= 1;
    expect(b.device.handleDatagram(forged, a.address, T0)).toEqual(drop('decrypt_failed'));
    const counterChanged = Uint8Array.from(datagram(a, toB()));
    counterChanged[8]! ^= 1; // the counter is the nonce: authentication fails
    expect(b.device.handleDatagram(counterChanged, a.address, T0)).toEqual(drop('decrypt_failed'));
    const misaddressed = Uint8Array.from(datagram(a, toB()));
    misaddressed[4]! ^= 1;
    expect(b.device.handleDatagram(misaddressed, a.address, T0)).toEqual(drop('unknown_index'));
  });

  it('enforces cryptokey routing on decrypted packets: source in the peer’s allowed IPs, valid IP header', () => {
    const { a, b } = established();
    // B allows only 10.0.0.1/32 and fd00::1/128 from A.
    expect(b.device.handleDatagram(datagram(a, ipv4Packet('10.0.0.7', '10.0.0.2', 8)), a.address, T0)).toEqual(
      drop('source_not_allowed'),
    );
    expect(b.device.handleDatagram(datagram(a, ipv6Packet(1, 2, 8)), a.address, T0).kind).toBe('packet');
    expect(b.device.handleDatagram(datagram(a, ipv6Packet(3, 2, 8)), a.address, T0)).toEqual(
      drop('source_not_allowed'),
    );
    const lying = toB(8);
    lying[3] = 200; // total length beyond the packet
    expect(b.device.handleDatagram(datagram(a, lying), a.address, T0)).toEqual(drop('invalid_inner_packet'));
    expect(b.device.stats().drops).toEqual({ source_not_allowed: 2, invalid_inner_packet: 1 });
  });

  it('consumes keepalives without delivering anything', () => {
    const { a, b } = established();
    a.device.handleTimeout(T0 + 10_000); // nothing due on A
    b.device.handleTimeout(T0 + 10_000); // B got data at T0: passive keepalive
    const [keepalive] = drainTransmits(b.device);
    expect(keepalive).toHaveLength(32);
    expect(a.device.handleDatagram(keepalive!, b.address, T0 + 10_000)).toEqual({ kind: 'consumed' });
    expect(a.device.stats().keepalivesIn).toBe(1);
  });
});

describe('encapsulate', () => {
  it('drops what is not an IP packet and what no peer routes', () => {
    const { a } = established();
    expect(a.device.encapsulate(new Uint8Array(0), T0)).toEqual(drop('invalid_packet'));
    expect(a.device.encapsulate(new Uint8Array(19).fill(0x45, 0, 1), T0)).toEqual(drop('invalid_packet'));
    expect(a.device.encapsulate(new Uint8Array(60).fill(0x75, 0, 1), T0)).toEqual(drop('invalid_packet'));
    expect(a.device.encapsulate(new Uint8Array(70_000).fill(0x45, 0, 1), T0)).toEqual(drop('invalid_packet'));
    expect(a.device.encapsulate(ipv4Packet('10.0.0.1', '192.168.1.1', 8), T0)).toEqual(drop('no_route'));
  });

  it('keeps at most maxStagedPackets while handshaking, dropping the oldest', () => {
    const { a, b } = testPair({ device: { maxStagedPackets: 3 } });
    for (let i = 0; i < 5; i++) {
      const packet = toB(8);
      packet[27] = i; // mark
      expect(a.device.encapsulate(packet, T0).kind).toBe('queued');
    }
    expect(a.device.stats().drops.staged_overflow).toBe(2);
    const { atB } = exchange(a, b, T0);
    const delivered = atB.flatMap((r) => (r.kind === 'packet' ? [r.packet[27]] : []));
    expect(delivered).toEqual([2, 3, 4]);
  });

  it('returns the datagram directly and queues earlier staged packets first, in order', () => {
    const { a, b } = testPair({ bKnowsA: true });
    // B initiates; A has a packet staged for B meanwhile? No: A stages, B's initiation arrives, A responds.
    expect(a.device.encapsulate(toB(), T0).kind).toBe('queued');
    const [aInit] = drainTransmits(a.device);
    expect(b.device.encapsulate(toA(), T0).kind).toBe('queued');
    const [bInit] = drainTransmits(b.device);
    // Simultaneous initiation: each answers the other's; both sessions come up.
    a.device.handleDatagram(bInit!, b.address, T0);
    b.device.handleDatagram(aInit!, a.address, T0);
    const { atA, atB } = exchange(a, b, T0);
    expect(atA.some((r) => r.kind === 'packet')).toBe(true);
    expect(atB.some((r) => r.kind === 'packet')).toBe(true);
    expect(a.device.encapsulate(toB(), T0 + 1).kind).toBe('datagram');
    expect(b.device.encapsulate(toA(), T0 + 1).kind).toBe('datagram');
  });

  it('sends to a given peer with encapsulateTo, and refuses handles of removed peers', () => {
    const { a, b } = established();
    const other = ipv4Packet('10.0.0.1', '192.168.9.9', 8); // not routed to B by allowed IPs
    const result = a.device.encapsulateTo(a.peer, other, T0);
    expect(result.kind).toBe('datagram');
    // B still checks the source, not the destination.
    if (result.kind === 'datagram') expect(b.device.handleDatagram(result.data, a.address, T0).kind).toBe('packet');
    a.device.removePeer(b.publicKey);
    expect(a.device.encapsulateTo(a.peer, other, T0)).toEqual(drop('unknown_peer_handle'));
  });
});

describe('roaming', () => {
  it('follows the source of the last authenticated packet, and only authenticated ones', () => {
    const { a, b } = established();
    expect(b.peer.endpoint).toEqual(a.address);
    const moved = { host: '192.0.2.99', port: 41000 };
    expect(b.device.handleDatagram(datagram(a, toB()), moved, T0 + 1).kind).toBe('packet');
    expect(b.peer.endpoint).toEqual(moved);
    expect(b.device.pollEvent()).toMatchObject({ type: 'endpoint_changed', endpoint: moved });
    const reply = b.device.encapsulate(toA(), T0 + 2);
    expect(reply.kind === 'datagram' && reply.to).toEqual(moved);

    // Forged or replayed packets from elsewhere move nothing.
    const attacker = { host: '203.0.113.66', port: 666 };
    const captured = datagram(a, toB());
    expect(b.device.handleDatagram(captured, moved, T0 + 3).kind).toBe('packet');
    expect(b.device.handleDatagram(captured, attacker, T0 + 4)).toEqual(drop('replayed'));
    const forged = Uint8Array.from(datagram(a, toB()));
    forged[20]! ^= 1;
    expect(b.device.handleDatagram(forged, attacker, T0 + 5)).toEqual(drop('decrypt_failed'));
    expect(b.peer.endpoint).toEqual(moved);
    expect(b.device.pollEvent()).toBeUndefined();
  });
});

describe('configuration', () => {
  it('validates peers before changing anything', () => {
    const { a, b } = established();
    const good = { publicKey: b.publicKey, allowedIps: ['10.0.0.0/24'] };
    expect(() => a.device.upsertPeer({ ...good, publicKey: 'x' })).toThrow(/invalid peer public key/);
    expect(() => a.device.upsertPeer({ ...good, allowedIps: ['10.0.0.0/24', '10.0.0.0/40'] })).toThrow(
      /invalid allowed IP/,
    );
    expect(() => a.device.upsertPeer({ ...good, presharedKey: 'short' })).toThrow(/preshared/);
    expect(() => a.device.upsertPeer({ ...good, persistentKeepalive: -1 })).toThrow(/persistentKeepalive/);
    expect(() => a.device.upsertPeer({ ...good, publicKey: a.publicKey })).toThrow(/our own/);
    expect(a.peer.allowedIps).toEqual(['10.0.0.0/24', 'fd00::/64']);
    expect(a.peer.hasSession).toBe(true);
    expect(() => new Device({ privateKey: 'nope', rng: seededRng('x') })).toThrow(/private key/);
  });

  it('keeps sessions across updates, and moves an allowed IP from one peer to another', () => {
    const { a, b } = established();
    const thirdKey = publicKeyOf(generatePrivateKey(seededRng('third')));
    const third = a.device.upsertPeer({ publicKey: thirdKey, allowedIps: ['10.0.0.128/25'] });
    expect(a.peer.allowedIps).toEqual(['10.0.0.0/24', 'fd00::/64']); // the wider prefix stays with B
    expect(a.device.peerForAddress('10.0.0.200')).toBe(third);
    expect(a.device.peerForAddress('10.0.0.2')).toBe(a.peer);
    a.device.upsertPeer({ publicKey: thirdKey, allowedIps: ['fd00::/64'] });
    expect(a.peer.allowedIps).toEqual(['10.0.0.0/24']);
    expect(third.allowedIps).toEqual(['fd00::/64']);
    expect(a.device.peerForAddress('10.0.0.200')).toBe(a.peer);
    expect(a.device.encapsulate(toB(), T0).kind).toBe('datagram'); // session survived
    expect(a.device.listPeers()).toHaveLength(2);
    expect(a.device.peerByPublicKey(b.publicKey)).toBe(a.peer);
  });

  it('forgets a removed peer: routes, sessions, indices, timers', () => {
    const { a, b } = established();
    const inFlight = datagram(b, toA());
    expect(a.device.removePeer(b.publicKey)).toBe(true);
    expect(a.device.removePeer(b.publicKey)).toBe(false);
    expect(a.device.peerByPublicKey(b.publicKey)).toBeUndefined();
    expect(a.device.encapsulate(toB(), T0)).toEqual(drop('no_route'));
    expect(a.device.handleDatagram(inFlight, b.address, T0)).toEqual(drop('unknown_index'));
    expect(a.device.pollTimeout()).toBeUndefined();
  });
});

describe('many peers', () => {
  it('serves 100 clients on one device: handshakes, routing replies by allowed IPs, timers, removal', () => {
    const gatewayKey = generatePrivateKey(seededRng('gw'));
    const gateway = new Device({ privateKey: gatewayKey, rng: seededRng('gw-rng') });
    const gatewayAddress = { host: '198.51.100.1', port: 51820 };
    const clients = Array.from({ length: 100 }, (_, i) => {
      const key = generatePrivateKey(seededRng(`client-${i}`));
      const device = new Device({ privateKey: key, rng: seededRng(`client-rng-${i}`) });
      device.upsertPeer({ publicKey: publicKeyOf(gatewayKey), endpoint: gatewayAddress, allowedIps: ['10.1.0.0/16'] });
      const tunnelIp = `10.1.${i >> 8}.${(i & 255) + 1}`;
      gateway.upsertPeer({ publicKey: publicKeyOf(key), allowedIps: [`${tunnelIp}/32`] });
      return { device, tunnelIp, address: { host: `192.0.2.${i + 1}`, port: 40000 + i } };
    });
    const deliver = (now: number) => {
      for (let moved = true; moved;) {
        moved = false;
        for (const c of clients) {
          for (const data of drainTransmits(c.device)) {
            moved = true;
            gateway.handleDatagram(data, c.address, now);
          }
        }
        for (let t = gateway.pollTransmit(); t; t = gateway.pollTransmit()) {
          moved = true;
          clients.find((c) => c.address.port === t.to.port)!.device.handleDatagram(t.data, gatewayAddress, now);
        }
      }
    };
    for (const c of clients) c.device.encapsulate(ipv4Packet(c.tunnelIp, '10.1.255.1', 16), T0);
    deliver(T0);
    expect(gateway.listPeers().every((p) => p.hasSession)).toBe(true);
    // Replies are routed by destination to the right client, and only that client can read them.
    for (const [i, c] of clients.entries()) {
      const reply = gateway.encapsulate(ipv4Packet('10.1.255.1', c.tunnelIp, 16), T0 + 1);
      expect(reply.kind === 'datagram' && reply.to).toEqual(c.address);
      if (reply.kind !== 'datagram') return;
      expect(c.device.handleDatagram(reply.data, gatewayAddress, T0 + 1).kind).toBe('packet');
      const other = clients[(i + 1) % clients.length]!;
      expect(other.device.handleDatagram(reply.data, gatewayAddress, T0 + 1)).toEqual(drop('unknown_index'));
    }
    // 30 s of timers on all 101 devices: each client answers the data it got with one passive keepalive (10 s),
    // which tells the gateway its replies arrived — so nobody needs a new handshake.
    const before = gateway.stats();
    for (let now = T0 + 1; ;) {
      const next = Math.min(...[gateway, ...clients.map((c) => c.device)].map((d) => d.pollTimeout() ?? Infinity));
      if (next > T0 + 30_000) break;
      now = Math.max(now, next);
      gateway.handleTimeout(now);
      for (const c of clients) c.device.handleTimeout(now);
      deliver(now);
    }
    const after = gateway.stats();
    expect(after.keepalivesIn - before.keepalivesIn).toBe(100);
    expect(after.initiationsSent + after.responsesSent).toBe(before.initiationsSent + before.responsesSent);
    expect(after.packetsOut).toBe(before.packetsOut); // the gateway had sent data: no keepalive of its own
    for (const c of clients.slice(0, 50)) gateway.removePeer(c.device.publicKey);
    expect(gateway.listPeers()).toHaveLength(50);
    expect(gateway.encapsulate(ipv4Packet('10.1.255.1', clients[0]!.tunnelIp, 16), T0 + 2)).toEqual(drop('no_route'));
  });
});
