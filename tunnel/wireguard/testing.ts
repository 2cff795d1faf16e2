/**
 * Helpers for tests that drive Devices with a fake clock and a fake network (also for the client and gateway
 * state machines' tests). Not exported from index.ts.
 */
import { Device, type DatagramResult, type DeviceOptions, type PeerConfig } from './device.js';
import type { Endpoint } from './cookie.js';
import { generatePrivateKey, publicKeyOf } from './keys.js';
import type { Peer } from './peer.js';
import { seededRng } from './rng.js';

/** A minimal IPv4 packet (UDP unless `protocol` says otherwise) with a valid header checksum. */
export function ipv4Packet(source: string, destination: string, payloadLength: number, protocol = 17): Uint8Array {
  const packet = new Uint8Array(20 + payloadLength);
  const view = new DataView(packet.buffer);
  packet[0] = 0x45;
  view.setUint16(2, packet.length);
  packet[8] = 64;
  packet[9] = protocol;
  packet.set(source.split('.').map(Number), 12);
  packet.set(destination.split('.').map(Number), 16);
  for (let i = 0; i < payloadLength; i++) packet[20 + i] = i & 0xff;
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += view.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  view.setUint16(10, ~sum & 0xffff);
  return packet;
}

/** A minimal IPv6 packet; addresses are given as 16-byte arrays' last byte on top of `fd00::`. */
export function ipv6Packet(sourceLastByte: number, destinationLastByte: number, payloadLength: number): Uint8Array {
  const packet = new Uint8Array(40 + payloadLength);
  packet[0] = 0x60;
  new DataView(packet.buffer).setUint16(4, payloadLength);
  packet[6] = 17;
  packet[7] = 64;
  packet[8] = 0xfd;
  packet[23] = sourceLastByte;
  packet[24] = 0xfd;
  packet[39] = destinationLastByte;
  return packet;
}

export interface TestSide {
  readonly name: 'a' | 'b';
  readonly device: Device;
  readonly privateKey: string;
  readonly publicKey: string;
  readonly address: Endpoint;
  /** The handle of the other side in this device. */
  peer: Peer;
}

export interface TestPairOptions {
  seed?: string;
  presharedKey?: string;
  /** Applied to both devices. */
  device?: Partial<Omit<DeviceOptions, 'privateKey' | 'rng'>>;
  /** Applied to A's view of B (e.g. persistentKeepalive). */
  aPeer?: Partial<PeerConfig>;
  bPeer?: Partial<PeerConfig>;
  /** Whether B knows A's endpoint up front (default false: B learns it from A's handshake, like a gateway). */
  bKnowsA?: boolean;
}

/**
 * Two devices that know each other: A is 10.0.0.1 (allowed on B as 10.0.0.1/32), B is 10.0.0.2 (allowed on A as
 * 10.0.0.0/24 and fd00::/64, so A routes everything there to B, like a client to a gateway).
 */
export function testPair(options: TestPairOptions = {}): { a: TestSide; b: TestSide } {
  const seed = options.seed ?? 'pair';
  const keyRng = seededRng(`${seed}/keys`);
  const aKey = generatePrivateKey(keyRng);
  const bKey = generatePrivateKey(keyRng);
  const aAddress = { host: '192.0.2.1', port: 40000 };
  const bAddress = { host: '198.51.100.2', port: 51820 };
  const aDevice = new Device({ privateKey: aKey, rng: seededRng(`${seed}/a`), ...options.device });
  const bDevice = new Device({ privateKey: bKey, rng: seededRng(`${seed}/b`), ...options.device });
  const aPeer = aDevice.upsertPeer({
    publicKey: publicKeyOf(bKey),
    presharedKey: options.presharedKey,
    endpoint: bAddress,
    allowedIps: ['10.0.0.0/24', 'fd00::/64'],
    ...options.aPeer,
  });
  const bPeer = bDevice.upsertPeer({
    publicKey: publicKeyOf(aKey),
    presharedKey: options.presharedKey,
    endpoint: options.bKnowsA ? aAddress : undefined,
    allowedIps: ['10.0.0.1/32', 'fd00::1/128'],
    ...options.bPeer,
  });
  return {
    a: { name: 'a', device: aDevice, privateKey: aKey, publicKey: publicKeyOf(aKey), address: aAddress, peer: aPeer },
    b: { name: 'b', device: bDevice, privateKey: bKey, publicKey: publicKeyOf(bKey), address: bAddress, peer: bPeer },
  };
}

export interface Delivery {
  /** Results on A of datagrams B sent, and on B of datagrams A sent. */
  atA: DatagramResult[];
  atB: DatagramResult[];
}

/**
 * Moves queued datagrams between the two sides until both are quiet. `filter` may drop or inspect each datagram
 * (return false to lose it). A's datagrams appear to come from `a.address` unless `aSource` overrides it (roaming).
 */
export function exchange(
  a: TestSide,
  b: TestSide,
  now: number,
  filter: (from: 'a' | 'b', data: Uint8Array) => boolean = () => true,
  aSource: Endpoint = a.address,
): Delivery {
  const delivery: Delivery = { atA: [], atB: [] };
  for (let rounds = 0; rounds < 100; rounds++) {
    let moved = false;
    for (let t = a.device.pollTransmit(); t; t = a.device.pollTransmit()) {
      moved = true;
      if (filter('a', t.data)) delivery.atB.push(b.device.handleDatagram(t.data, aSource, now));
    }
    for (let t = b.device.pollTransmit(); t; t = b.device.pollTransmit()) {
      moved = true;
      if (filter('b', t.data)) delivery.atA.push(a.device.handleDatagram(t.data, b.address, now));
    }
    if (!moved) return delivery;
  }
  throw new Error('the devices kept talking for 100 rounds');
}

/** Drains a device's transmit queue, returning the datagrams. */
export function drainTransmits(device: Device): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let t = device.pollTransmit(); t; t = device.pollTransmit()) out.push(t.data);
  return out;
}

/** Drains a device's events as `type` strings. */
export function drainEvents(device: Device): string[] {
  const out: string[] = [];
  for (let e = device.pollEvent(); e; e = device.pollEvent()) out.push(e.type);
  return out;
}

/** The message type of a datagram. */
export function messageType(data: Uint8Array): number {
  return data[0]!;
}

/** One datagram that crossed the fake network (or was lost on it). */
export interface WireRecord {
  readonly at: number;
  readonly from: 'a' | 'b';
  /** Message type: 1 initiation, 2 response, 3 cookie reply, 4 transport (keepalive when `size` is 32). */
  readonly type: number;
  readonly size: number;
  readonly data: Uint8Array;
  readonly delivered: boolean;
  readonly result: DatagramResult | undefined;
}

export interface Clocked {
  now: number;
  readonly wire: WireRecord[];
  /** Events of both devices with the time they were drained. */
  readonly events: { at: number; side: 'a' | 'b'; type: string }[];
}

export function clockAt(now: number): Clocked {
  return { now, wire: [], events: [] };
}

function collectEvents(a: TestSide, b: TestSide, clock: Clocked): void {
  for (const side of [a, b]) {
    for (let e = side.device.pollEvent(); e; e = side.device.pollEvent()) {
      clock.events.push({ at: clock.now, side: side.name, type: e.type });
    }
  }
}

/**
 * Drives both devices' timers with a fake clock from `clock.now` to `until`, delivering every datagram at once
 * (unless `filter` loses it) and recording it in `clock.wire`.
 */
export function runUntil(
  a: TestSide,
  b: TestSide,
  clock: Clocked,
  until: number,
  filter: (from: 'a' | 'b', data: Uint8Array, at: number) => boolean = () => true,
): void {
  const deliverAll = () => {
    for (let rounds = 0; rounds < 100; rounds++) {
      let moved = false;
      for (const [side, other, from] of [
        [a, b, 'a'],
        [b, a, 'b'],
      ] as const) {
        for (let t = side.device.pollTransmit(); t; t = side.device.pollTransmit()) {
          moved = true;
          const delivered = filter(from, t.data, clock.now);
          const result = delivered ? other.device.handleDatagram(t.data, side.address, clock.now) : undefined;
          clock.wire.push({
            at: clock.now,
            from,
            type: t.data[0]!,
            size: t.data.length,
            data: t.data,
            delivered,
            result,
          });
        }
      }
      if (!moved) return collectEvents(a, b, clock);
    }
    throw new Error('the devices kept talking for 100 rounds');
  };
  deliverAll();
  for (;;) {
    const next = Math.min(a.device.pollTimeout() ?? Infinity, b.device.pollTimeout() ?? Infinity);
    if (next > until) break;
    clock.now = Math.max(clock.now, next);
    a.device.handleTimeout(clock.now);
    b.device.handleTimeout(clock.now);
    deliverAll();
  }
  clock.now = until;
}

/** Sends an IP packet from A to B (or back) at `clock.now` and delivers what results, recording it. */
export function sendPacket(
  from: TestSide,
  to: TestSide,
  clock: Clocked,
  packet: Uint8Array,
  filter: (data: Uint8Array) => boolean = () => true,
): DatagramResult | 'queued' | 'dropped' {
  const result = from.device.encapsulate(packet, clock.now);
  if (result.kind !== 'datagram') return result.kind;
  const delivered = filter(result.data);
  const received = delivered ? to.device.handleDatagram(result.data, from.address, clock.now) : undefined;
  clock.wire.push({
    at: clock.now,
    from: from.name,
    type: 4,
    size: result.data.length,
    data: result.data,
    delivered,
    result: received,
  });
  return received ?? 'dropped';
}
