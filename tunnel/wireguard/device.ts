/**
 * A sans-IO WireGuard interface: our static key, many peers, cryptokey routing, and the datagram/packet paths.
 * Drivers feed it datagrams from a UDP socket (`handleDatagram`) and IP packets from a TUN device (`encapsulate`),
 * send what `pollTransmit` yields, and call `handleTimeout` at `pollTimeout`. See README.md.
 */
import { parseIp, ipToBytes } from '../../protocol/ip.js';
import { AllowedIps, parseRoutePrefix, type RoutePrefix } from './allowed-ips.js';
import {
  COOKIE_REPLY_SIZE,
  DEFAULT_TIMERS,
  INITIATION_SIZE,
  KEY_LENGTH,
  MAX_IP_PACKET,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  MESSAGE_TRANSPORT,
  RESPONSE_SIZE,
  TRANSPORT_MAX_SIZE,
  TRANSPORT_MIN_SIZE,
  type TimerConfig,
} from './constants.js';
import { CookieChecker, CookieReply, type Endpoint } from './cookie.js';
import { equalBytes } from './crypto.js';
import {
  consumeInitiation,
  localIdentity,
  readIndex,
  remoteIdentity,
  Response,
  type LocalIdentity,
} from './handshake.js';
import { Fifo } from './fifo.js';
import { declaredLength, isIpPacket } from './ip-header.js';
import { counterRejected, type Keypair } from './keypair.js';
import { encodeKey, requireKey } from './keys.js';
import { LoadMonitor, SourceRateLimiter } from './load.js';
import { PeerState, type DeviceEvent, type DropReason, type Peer, type PeerContext } from './peer.js';
import { randomInt, type Rng } from './rng.js';
import { TimerQueue } from './timer-queue.js';

export interface DeviceOptions {
  /** Our static private key, base64 as `wg genkey` prints it. */
  privateKey: string;
  rng: Rng;
  /** The tunnel MTU, which caps padding (default 1420, as wg-quick). */
  mtu?: number;
  /**
   * Protocol timers; the defaults are the whitepaper's. Override only in tests and interop runs that must see
   * rekeys and expiries within seconds.
   */
  timers?: Partial<TimerConfig>;
  /** Packets kept per peer while a handshake is under way; the oldest is dropped beyond this (default 128). */
  maxStagedPackets?: number;
  /** Handshake messages per second above which the device is under load and demands cookies (default 500). */
  underLoadHandshakesPerSecond?: number;
}

export interface PeerConfig {
  /** The peer's public key, base64. */
  publicKey: string;
  /** Optional preshared key, base64 (`wg genpsk`). */
  presharedKey?: string;
  /** Where to send handshakes before the peer has told us (by sending) where it is. */
  endpoint?: Endpoint;
  /** CIDRs routed to this peer and accepted as source addresses from it. Replaces the previous set. */
  allowedIps: readonly string[];
  /** Seconds between keepalives regardless of traffic (NAT keep-alive); 0 or absent for none. */
  persistentKeepalive?: number;
}

export interface Dropped {
  readonly kind: 'dropped';
  readonly reason: DropReason;
}

/** What became of a datagram from the network. */
export type DatagramResult =
  /** Transport data for the TUN device: a complete IP packet (padding removed) from `peer`. */
  | { readonly kind: 'packet'; readonly peer: Peer; readonly packet: Uint8Array }
  /** A handshake message, cookie reply or keepalive: handled; any answer waits in `pollTransmit`. */
  | { readonly kind: 'consumed' }
  | Dropped;

/** What became of an IP packet from the TUN device. */
export type EncapsulateResult =
  /** Send `data` to `to` now. Earlier staged packets, if any, were queued on `pollTransmit` first. */
  | { readonly kind: 'datagram'; readonly peer: Peer; readonly to: Endpoint; readonly data: Uint8Array }
  /** Kept until a handshake with `peer` completes (then sent through `pollTransmit`). */
  | { readonly kind: 'queued'; readonly peer: Peer }
  | Dropped;

export interface Transmit {
  readonly to: Endpoint;
  readonly data: Uint8Array;
}

export interface DeviceStats {
  /** Datagrams received, by outcome. */
  packetsIn: number;
  keepalivesIn: number;
  handshakeMessagesIn: number;
  /** Datagrams handed to the driver, directly or through `pollTransmit`. */
  packetsOut: number;
  initiationsSent: number;
  responsesSent: number;
  cookieRepliesSent: number;
  drops: Partial<Record<DropReason, number>>;
}

const CONSUMED: DatagramResult = Object.freeze({ kind: 'consumed' });
const dropResults = new Map<DropReason, Dropped>();
function dropped(reason: DropReason): Dropped {
  let result = dropResults.get(reason);
  if (!result) dropResults.set(reason, (result = Object.freeze({ kind: 'dropped', reason })));
  return result;
}

interface IndexEntry {
  readonly peer: PeerState;
  /** Undefined while the index names a handshake we initiated. */
  keypair: Keypair | undefined;
}

export class Device {
  /** Our public key, base64. */
  readonly publicKey: string;
  private readonly local: LocalIdentity;
  private readonly rng: Rng;
  private readonly timers: TimerConfig;
  private readonly peers = new Map<string, PeerState>();
  private readonly peersByKeyHex = new Map<string, PeerState>();
  private readonly indices = new Map<number, IndexEntry>();
  private readonly routes = new AllowedIps<PeerState>();
  private readonly timerQueue = new TimerQueue<PeerState>();
  private readonly cookieChecker: CookieChecker;
  private readonly load: LoadMonitor;
  private readonly rateLimiter = new SourceRateLimiter();
  private readonly transmits = new Fifo<Transmit>();
  private readonly events = new Fifo<DeviceEvent>();
  private readonly counters: DeviceStats = {
    packetsIn: 0,
    keepalivesIn: 0,
    handshakeMessagesIn: 0,
    packetsOut: 0,
    initiationsSent: 0,
    responsesSent: 0,
    cookieRepliesSent: 0,
    drops: {},
  };
  private readonly context: PeerContext;
  private readonly jitterScratch = new Uint8Array(4);

  constructor(options: DeviceOptions) {
    this.rng = options.rng;
    this.timers = { ...DEFAULT_TIMERS, ...options.timers };
    this.local = localIdentity(requireKey(options.privateKey, 'private key'));
    this.publicKey = encodeKey(this.local.publicKey);
    this.cookieChecker = new CookieChecker(this.local.publicKey, this.rng, this.timers.cookieRefreshTime);
    this.load = new LoadMonitor(options.underLoadHandshakesPerSecond ?? 500);
    this.context = this.makeContext(options.mtu ?? 1420, options.maxStagedPackets ?? 128);
  }

  // ---- configuration ----

  /**
   * Adds a peer or updates one with the same public key (sessions survive an update). Throws RangeError on a
   * malformed key or CIDR, or on our own public key; nothing changes then.
   */
  upsertPeer(config: PeerConfig): Peer {
    const publicKey = requireKey(config.publicKey, 'peer public key');
    const presharedKey =
      config.presharedKey === undefined ? undefined : requireKey(config.presharedKey, 'preshared key');
    if (equalBytes(publicKey, this.local.publicKey)) throw new RangeError('a peer cannot have our own public key');
    const cidrs = config.allowedIps.map((text) => {
      const parsed = parseRoutePrefix(text);
      if (!parsed.ok) throw new RangeError(`invalid allowed IP: ${parsed.error}`);
      return parsed.prefix;
    });
    const keepalive = config.persistentKeepalive ?? 0;
    if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65535) {
      throw new RangeError('persistentKeepalive is whole seconds in 0–65535');
    }

    const key = encodeKey(publicKey);
    let peer = this.peers.get(key);
    if (!peer) {
      peer = new PeerState(key, remoteIdentity(this.local, publicKey, presharedKey), this.context);
      this.peers.set(key, peer);
      this.peersByKeyHex.set(Buffer.from(publicKey).toString('hex'), peer);
    } else if (!sameKey(peer.identity.presharedKey, presharedKey)) {
      peer.identity = remoteIdentity(this.local, publicKey, presharedKey);
    }
    if (config.endpoint) peer.endpoint = { host: config.endpoint.host, port: config.endpoint.port };
    this.setRoutes(peer, cidrs);
    if (keepalive > 0 && peer.persistentKeepalive === 0) {
      // Like wg: turning persistent keepalive on sends one right away (at the next handleTimeout).
      peer.persistentKeepaliveAt = 0;
    }
    peer.persistentKeepalive = keepalive;
    if (keepalive === 0) peer.persistentKeepaliveAt = Infinity;
    this.reschedule(peer);
    return peer;
  }

  /** Removes a peer, its routes, sessions and staged packets. False if there was none. */
  removePeer(publicKey: string): boolean {
    const peer = this.peers.get(publicKey);
    if (!peer) return false;
    this.setRoutes(peer, []);
    peer.destroy();
    this.timerQueue.cancel(peer);
    this.peers.delete(publicKey);
    this.peersByKeyHex.delete(Buffer.from(peer.identity.publicKey).toString('hex'));
    return true;
  }

  peerByPublicKey(publicKey: string): Peer | undefined {
    return this.peers.get(publicKey);
  }

  /** Longest-prefix match of an address in the allowed-IPs table (e.g. to tell whether it is routed here). */
  peerForAddress(address: string): Peer | undefined {
    const parsed = parseIp(address);
    if (!parsed.ok) return undefined;
    const bytes = ipToBytes(parsed.value);
    return this.routes.lookup(bytes.length === 4 ? 4 : 6, bytes, 0);
  }

  listPeers(): Peer[] {
    return [...this.peers.values()];
  }

  // ---- packets from the TUN device ----

  /** Encrypts an IP packet for the peer whose allowed IPs contain its destination. */
  encapsulate(packet: Uint8Array, now: number): EncapsulateResult {
    if (!isIpPacket(packet) || packet.length > MAX_IP_PACKET) return this.drop('invalid_packet');
    const peer = this.routes.lookupDestination(packet);
    if (!peer) return this.drop('no_route');
    return this.sendTo(peer, packet, now);
  }

  /** Encrypts an IP packet for a given peer, whatever its destination. */
  encapsulateTo(peer: Peer, packet: Uint8Array, now: number): EncapsulateResult {
    if (!isIpPacket(packet) || packet.length > MAX_IP_PACKET) return this.drop('invalid_packet');
    const state = this.peers.get(peer.publicKey);
    if (!state || state !== peer) return this.drop('unknown_peer_handle');
    return this.sendTo(state, packet, now);
  }

  private sendTo(peer: PeerState, packet: Uint8Array, now: number): EncapsulateResult {
    const data = peer.send(packet, now);
    this.reschedule(peer);
    if (!data) return { kind: 'queued', peer };
    this.counters.packetsOut++;
    return { kind: 'datagram', peer, to: peer.endpoint!, data };
  }

  // ---- datagrams from the network ----

  handleDatagram(datagram: Uint8Array, from: Endpoint, now: number): DatagramResult {
    if (datagram.length < 4) return this.drop('truncated');
    // The type is a little-endian 32-bit word: non-zero "reserved" bytes make it unknown, as in wireguard-go.
    const type = readIndex(datagram, 0);
    switch (type) {
      case MESSAGE_TRANSPORT:
        return this.handleTransport(datagram, from, now);
      case MESSAGE_INITIATION:
        return this.handleHandshake(datagram, INITIATION_SIZE, from, now);
      case MESSAGE_RESPONSE:
        return this.handleHandshake(datagram, RESPONSE_SIZE, from, now);
      case MESSAGE_COOKIE_REPLY:
        return this.handleCookieReply(datagram, now);
      default:
        return this.drop('unknown_type');
    }
  }

  private handleTransport(datagram: Uint8Array, from: Endpoint, now: number): DatagramResult {
    if (datagram.length < TRANSPORT_MIN_SIZE) return this.drop('truncated');
    if (datagram.length > TRANSPORT_MAX_SIZE) return this.drop('oversized');
    const entry = this.indices.get(readIndex(datagram, 4));
    const keypair = entry?.keypair;
    if (!entry || !keypair) return this.drop('unknown_index');
    if (now - keypair.created >= this.timers.rejectAfterTime) return this.drop('session_expired');
    const lo = readIndex(datagram, 8);
    const hi = readIndex(datagram, 12);
    if (counterRejected(hi, lo)) return this.drop('counter_limit');
    const plaintext = keypair.open(datagram, hi, lo);
    if (!plaintext) return this.drop('decrypt_failed');
    if (!keypair.replay.accept(hi, lo)) return this.drop('replayed');

    const peer = entry.peer;
    const isData = plaintext.length > 0;
    peer.onTransport(keypair, from, datagram.length, isData, now);
    this.reschedule(peer);
    if (!isData) {
      this.counters.keepalivesIn++;
      return CONSUMED;
    }
    const length = declaredLength(plaintext);
    if (length === undefined) return this.drop('invalid_inner_packet');
    const packet = length === plaintext.length ? plaintext : plaintext.subarray(0, length);
    // Cryptokey routing, inbound: the peer may only send from addresses in its allowed IPs.
    if (this.routes.lookupSource(packet) !== peer) return this.drop('source_not_allowed');
    this.counters.packetsIn++;
    return { kind: 'packet', peer, packet };
  }

  private handleHandshake(datagram: Uint8Array, size: number, from: Endpoint, now: number): DatagramResult {
    if (datagram.length < size) return this.drop('truncated');
    if (datagram.length > size) return this.drop('oversized');
    if (!this.cookieChecker.checkMac1(datagram)) return this.drop('bad_mac1');
    this.counters.handshakeMessagesIn++;
    if (this.load.record(now)) {
      if (!this.cookieChecker.checkMac2(datagram, from, now)) {
        this.queueTransmit(from, this.cookieChecker.createReply(datagram, from, now));
        this.counters.cookieRepliesSent++;
        return this.drop('cookie_required');
      }
      if (!this.rateLimiter.allow(from.host, now)) return this.drop('rate_limited');
    }
    return size === INITIATION_SIZE
      ? this.handleInitiation(datagram, from, now)
      : this.handleResponse(datagram, from, now);
  }

  private handleInitiation(datagram: Uint8Array, from: Endpoint, now: number): DatagramResult {
    const consumed = consumeInitiation(this.local, datagram, (key) =>
      this.peersByKeyHex.get(Buffer.from(key).toString('hex')),
    );
    if (typeof consumed === 'string') return this.drop(consumed);
    const peer = consumed.peer;
    const refused = peer.acceptInitiation(consumed, from, now);
    this.reschedule(peer);
    return refused ? this.drop(refused) : CONSUMED;
  }

  private handleResponse(datagram: Uint8Array, from: Endpoint, now: number): DatagramResult {
    const index = readIndex(datagram, Response.receiver);
    const entry = this.indices.get(index);
    if (!entry) return this.drop('unknown_index');
    if (entry.keypair || !entry.peer.awaitsResponse(index)) return this.drop('unexpected_response');
    const refused = entry.peer.acceptResponse(datagram, from, now);
    this.reschedule(entry.peer);
    return refused ? this.drop(refused) : CONSUMED;
  }

  private handleCookieReply(datagram: Uint8Array, now: number): DatagramResult {
    if (datagram.length < COOKIE_REPLY_SIZE) return this.drop('truncated');
    if (datagram.length > COOKIE_REPLY_SIZE) return this.drop('oversized');
    const entry = this.indices.get(readIndex(datagram, CookieReply.receiver));
    if (!entry) return this.drop('unknown_index');
    const refused = entry.peer.acceptCookieReply(datagram, now);
    return refused ? this.drop(refused) : CONSUMED;
  }

  // ---- draining and time ----

  pollTransmit(): Transmit | undefined {
    return this.transmits.shift();
  }

  pollEvent(): DeviceEvent | undefined {
    return this.events.shift();
  }

  /** The next instant a timer wants `handleTimeout` (possibly already past), or undefined when none is armed. */
  pollTimeout(): number | undefined {
    return this.timerQueue.peek();
  }

  handleTimeout(now: number): void {
    for (const peer of this.timerQueue.takeDue(now)) {
      if (peer.removed) continue;
      peer.handleTimeout(now);
      this.reschedule(peer);
    }
  }

  /** A snapshot of the counters. */
  stats(): DeviceStats {
    return { ...this.counters, drops: { ...this.counters.drops } };
  }

  // ---- internals ----

  private drop(reason: DropReason, count = 1): Dropped {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + count;
    return dropped(reason);
  }

  private queueTransmit(to: Endpoint, data: Uint8Array): void {
    this.transmits.push({ to, data });
    this.counters.packetsOut++;
  }

  private reschedule(peer: PeerState): void {
    if (!peer.removed) this.timerQueue.schedule(peer, peer.nextDeadline());
  }

  private setRoutes(peer: PeerState, cidrs: readonly RoutePrefix[]): void {
    for (const cidr of peer.cidrs) this.routes.remove(cidr, peer);
    for (const cidr of cidrs) {
      const previous = this.routes.insert(cidr, peer);
      // A prefix belongs to one peer: moving it takes it from the other peer's list.
      if (previous && previous !== peer) previous.cidrs = previous.cidrs.filter((c) => c.text !== cidr.text);
    }
    peer.cidrs = cidrs;
  }

  private makeContext(mtu: number, maxStagedPackets: number): PeerContext {
    const key = new Uint8Array(KEY_LENGTH);
    return {
      local: this.local,
      timers: this.timers,
      mtu,
      maxStagedPackets,
      allocateIndex: (peer) => {
        let index: number;
        do index = randomInt(this.rng, 2 ** 32, this.jitterScratch);
        while (this.indices.has(index));
        this.indices.set(index, { peer, keypair: undefined });
        return index;
      },
      bindIndex: (index, keypair) => {
        const entry = this.indices.get(index);
        if (entry) entry.keypair = keypair;
      },
      freeIndex: (index) => void this.indices.delete(index),
      randomKey: () => {
        this.rng.fill(key);
        return key;
      },
      jitter: () =>
        this.timers.rekeyTimeoutJitterMax > 0
          ? randomInt(this.rng, this.timers.rekeyTimeoutJitterMax, this.jitterScratch)
          : 0,
      transmit: (to, data) => this.queueTransmit(to, data),
      emit: (event) => void this.events.push(event),
      drop: (reason, count) => void this.drop(reason, count),
      countSent: (kind) =>
        void (kind === 'initiation' ? this.counters.initiationsSent++ : this.counters.responsesSent++),
    };
  }
}

function sameKey(a: Uint8Array, b: Uint8Array | undefined): boolean {
  return equalBytes(a, b ?? new Uint8Array(KEY_LENGTH));
}
