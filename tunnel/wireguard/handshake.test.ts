import { describe, expect, it } from 'vitest';
import { generatePresharedKey } from './keys.js';
import { seededRng } from './rng.js';
import { drainEvents, exchange, ipv4Packet, ipv6Packet, messageType, testPair } from './testing.js';

const T0 = 1_700_000_000_000;

describe('handshake and transport between two Devices', () => {
  it('stages the first packet, handshakes, then delivers it and later packets both ways', () => {
    const { a, b } = testPair();
    const first = ipv4Packet('10.0.0.1', '10.0.0.2', 100);
    const queued = a.device.encapsulate(first, T0);
    expect(queued.kind).toBe('queued');

    const { atA, atB } = exchange(a, b, T0);
    // B got the initiation, then the staged packet on the new session (which confirms it).
    expect(atB.map((r) => r.kind)).toEqual(['consumed', 'packet']);
    expect(atA.map((r) => r.kind)).toEqual(['consumed']);
    const delivered = atB[1]!;
    expect(delivered.kind === 'packet' && Buffer.from(delivered.packet).equals(Buffer.from(first))).toBe(true);
    expect(delivered.kind === 'packet' && delivered.peer.publicKey).toBe(a.publicKey);
    expect(drainEvents(a.device)).toEqual(['handshake_completed']);
    expect(drainEvents(b.device)).toEqual(['endpoint_changed', 'handshake_completed']);
    expect(b.peer.endpoint).toEqual(a.address);

    // Now direct, both ways, no queue.
    const toB = a.device.encapsulate(ipv4Packet('10.0.0.1', '10.0.0.2', 1400), T0 + 1);
    expect(toB.kind).toBe('datagram');
    if (toB.kind !== 'datagram') return;
    expect(toB.to).toEqual(b.address);
    expect(b.device.handleDatagram(toB.data, a.address, T0 + 2).kind).toBe('packet');
    const reply = ipv6Packet(0x02, 0x01, 33);
    const toA = b.device.encapsulate(reply, T0 + 3);
    expect(toA.kind).toBe('datagram');
    if (toA.kind !== 'datagram') return;
    const back = a.device.handleDatagram(toA.data, b.address, T0 + 4);
    expect(back.kind === 'packet' && Buffer.from(back.packet).equals(Buffer.from(reply))).toBe(true);
  });

  it('pads plaintext to 16 bytes (capped at the MTU) and strips the padding on receipt', () => {
    const { a, b } = testPair({ device: { mtu: 1420 } });
    a.device.encapsulate(ipv4Packet('10.0.0.1', '10.0.0.2', 1), T0);
    exchange(a, b, T0);
    for (const [payload, wire] of [
      [1, 32 + 32], // 21 bytes → 32
      [12, 32 + 32], // 32 → 32
      [13, 32 + 48], // 33 → 48
      [1399, 32 + 1420], // 1419 → 1424 capped at the MTU
      [1400, 32 + 1420], // exactly the MTU
    ] as const) {
      const packet = ipv4Packet('10.0.0.1', '10.0.0.2', payload);
      const result = a.device.encapsulate(packet, T0 + 1);
      expect(result.kind === 'datagram' && result.data.length).toBe(wire);
      if (result.kind !== 'datagram') return;
      const received = b.device.handleDatagram(result.data, a.address, T0 + 1);
      expect(received.kind === 'packet' && received.packet.length).toBe(packet.length);
    }
  });

  it('works with a preshared key, and fails cleanly when the preshared keys differ', () => {
    const psk = generatePresharedKey(seededRng('psk'));
    const good = testPair({ presharedKey: psk });
    good.a.device.encapsulate(ipv4Packet('10.0.0.1', '10.0.0.2', 10), T0);
    expect(exchange(good.a, good.b, T0).atB.map((r) => r.kind)).toEqual(['consumed', 'packet']);

    const bad = testPair({ aPeer: { presharedKey: psk } });
    bad.a.device.encapsulate(ipv4Packet('10.0.0.1', '10.0.0.2', 10), T0);
    const { atA } = exchange(bad.a, bad.b, T0);
    // B cannot tell (its response is sealed under its own PSK); A refuses the response.
    expect(atA).toEqual([{ kind: 'dropped', reason: 'decrypt_failed' }]);
    expect(bad.a.peer.hasSession).toBe(false);
  });

  it('rejects an initiation from an unknown key and a response to no initiation', () => {
    const { a, b } = testPair();
    const stranger = testPair({ seed: 'stranger' });
    // The stranger's A addresses B's public key? No: it addresses its own B. Re-point it at our B.
    stranger.a.device.upsertPeer({ publicKey: b.publicKey, endpoint: b.address, allowedIps: ['10.9.0.0/24'] });
    stranger.a.device.encapsulate(ipv4Packet('10.0.0.1', '10.9.0.2', 10), T0);
    const initiations = [];
    for (let t = stranger.a.device.pollTransmit(); t; t = stranger.a.device.pollTransmit()) initiations.push(t);
    const toB = initiations.find((t) => t.to.host === b.address.host)!;
    expect(messageType(toB.data)).toBe(1);
    expect(b.device.handleDatagram(toB.data, a.address, T0)).toEqual({ kind: 'dropped', reason: 'unknown_peer' });

    a.device.encapsulate(ipv4Packet('10.0.0.1', '10.0.0.2', 10), T0);
    const { atA } = exchange(a, b, T0);
    expect(atA[0]!.kind).toBe('consumed');
    expect(b.device.stats().drops.unknown_peer).toBe(1);
  });
});
