/**
 * One peer's protocol state: its sessions (previous/current/next keypairs), the handshake it initiated, its staged
 * packets, and the timers of whitepaper §6. The `Device` owns peers, routes to them and dispatches datagrams; the
 * rules of when to handshake, rekey, keep alive and forget keys live here.
 */
import type { TimerConfig } from './constants.js';
import { CookieGenerator, type Endpoint } from './cookie.js';
import type { RoutePrefix } from './allowed-ips.js';
import {
  createInitiation,
  createResponse,
  consumeResponse,
  readIndex,
  Response,
  type ConsumedInitiation,
  type InitiationState,
  type LocalIdentity,
  type RemoteIdentity,
} from './handshake.js';
import { Keypair } from './keypair.js';
import { isAfter } from './tai64n.js';
import type { Schedulable } from './timer-queue.js';

/** The read-only view of a peer that `Device` hands out. */
export interface Peer {
  readonly publicKey: string;
  /** Where datagrams for this peer go: configured, or learned from its last authenticated packet (roaming). */
  readonly endpoint: Endpoint | undefined;
  /** The peer's allowed IPs in canonical form (`10.0.0.0/24`, `fd00::/64`). */
  readonly allowedIps: readonly string[];
  /** Persistent keepalive interval in seconds; 0 when off. */
  readonly persistentKeepalive: number;
  /** `now` of the last completed handshake, undefined before the first. */
  readonly lastHandshakeAt: number | undefined;
  /** Whether a confirmed session exists (it may still be too old to use; sending then starts a handshake). */
  readonly hasSession: boolean;
  readonly stats: Readonly<PeerStats>;
}

export interface PeerStats {
  /** Bytes and datagrams of authenticated transport data received from and sent to this peer (wire sizes). */
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
  handshakesCompleted: number;
}

export type DeviceEvent =
  | { readonly type: 'handshake_completed'; readonly peer: Peer }
  /** REKEY_ATTEMPT_TIME passed without a response; the staged packets were dropped. */
  | { readonly type: 'handshake_failed'; readonly peer: Peer }
  /** The current session reached REJECT_AFTER_TIME without being replaced. */
  | { readonly type: 'session_expired'; readonly peer: Peer }
  | { readonly type: 'endpoint_changed'; readonly peer: Peer; readonly endpoint: Endpoint };

/** Why a packet was not delivered or not sent; counted per reason in `Device.stats()`. */
export type DropReason =
  // handleDatagram
  | 'truncated'
  | 'oversized'
  | 'unknown_type'
  | 'bad_mac1'
  | 'cookie_required'
  | 'rate_limited'
  | 'decrypt_failed'
  | 'unknown_peer'
  | 'stale_timestamp'
  | 'initiation_flood'
  | 'unknown_index'
  | 'unexpected_response'
  | 'bad_cookie_reply'
  | 'session_expired'
  | 'counter_limit'
  | 'replayed'
  | 'invalid_inner_packet'
  | 'source_not_allowed'
  // encapsulate
  | 'invalid_packet'
  | 'no_route'
  | 'unknown_peer_handle'
  | 'staged_overflow'
  | 'handshake_failed';

/** What a peer needs from its device. */
export interface PeerContext {
  readonly local: LocalIdentity;
  readonly timers: TimerConfig;
  readonly mtu: number;
  readonly maxStagedPackets: number;
  /** Registers a fresh random receiver index for the peer (a handshake, until `bindIndex` gives it a keypair). */
  allocateIndex(peer: PeerState): number;
  bindIndex(index: number, keypair: Keypair): void;
  freeIndex(index: number): void;
  randomKey(): Uint8Array;
  /** A jitter in [0, timers.rekeyTimeoutJitterMax). */
  jitter(): number;
  transmit(to: Endpoint, data: Uint8Array): void;
  emit(event: DeviceEvent): void;
  drop(reason: DropReason, count?: number): void;
  countSent(kind: 'initiation' | 'response'): void;
}

const EMPTY = new Uint8Array(0);

export class PeerState implements Peer, Schedulable {
  readonly stats: PeerStats = { rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0, handshakesCompleted: 0 };
  endpoint: Endpoint | undefined;
  cidrs: readonly RoutePrefix[] = [];
  persistentKeepalive = 0;
  lastHandshakeAt: number | undefined;
  removed = false;
  scheduledAt = Infinity;

  current: Keypair | undefined;
  previous: Keypair | undefined;
  next: Keypair | undefined;
  private initiation: InitiationState | undefined;
  private readonly cookies: CookieGenerator;
  private latestTimestamp: Uint8Array | undefined;
  private lastInitiationConsumedAt = -Infinity;
  private lastSentHandshakeAt = -Infinity;
  private staged: Uint8Array[] = [];

  // Timers: absolute instants, Infinity when not armed (whitepaper §6, named as in wireguard-go's timers).
  private retransmitAt = Infinity;
  private handshakeStartedAt = -Infinity;
  private keepaliveAt = Infinity;
  private needAnotherKeepalive = false;
  private newHandshakeAt = Infinity;
  private zeroKeysAt = Infinity;
  persistentKeepaliveAt = Infinity;
  private sentLastMinuteHandshake = false;
  private expiryReported: Keypair | undefined;

  constructor(
    readonly publicKey: string,
    public identity: RemoteIdentity,
    private readonly ctx: PeerContext,
  ) {
    this.cookies = new CookieGenerator(identity.publicKey, ctx.timers.cookieRefreshTime);
  }

  get allowedIps(): readonly string[] {
    return this.cidrs.map((c) => c.text);
  }

  get hasSession(): boolean {
    return this.current !== undefined;
  }

  /** The earliest instant one of this peer's timers wants `handleTimeout`. */
  nextDeadline(): number {
    const expiry =
      this.current && this.expiryReported !== this.current
        ? this.current.created + this.ctx.timers.rejectAfterTime
        : Infinity;
    return Math.min(
      this.retransmitAt,
      this.keepaliveAt,
      this.newHandshakeAt,
      this.zeroKeysAt,
      this.persistentKeepaliveAt,
      expiry,
    );
  }

  // ---- sending ----

  /**
   * Sends an IP packet on the current session and returns the datagram, or stages it and starts a handshake when
   * there is no usable session (returns undefined).
   */
  send(packet: Uint8Array, now: number): Uint8Array | undefined {
    const keypair = this.usableCurrent(now);
    if (!keypair || !this.endpoint) {
      this.stage(packet);
      this.startHandshake(now, false);
      return undefined;
    }
    if (this.staged.length > 0) this.flushStaged(keypair, now);
    const datagram = this.seal(keypair, packet, now);
    this.keepKeyFreshSending(keypair, now);
    return datagram;
  }

  private usableCurrent(now: number): Keypair | undefined {
    const keypair = this.current;
    if (!keypair || keypair.sendExhausted || now - keypair.created >= this.ctx.timers.rejectAfterTime) return undefined;
    return keypair;
  }

  private seal(keypair: Keypair, packet: Uint8Array, now: number): Uint8Array {
    const datagram = keypair.seal(packet, paddedLength(packet.length, this.ctx.mtu));
    this.stats.txBytes += datagram.length;
    this.stats.txPackets++;
    this.onAuthenticatedTraversal(now);
    this.keepaliveAt = Infinity; // any authenticated packet sent makes a passive keepalive unnecessary
    if (packet.length > 0 && this.newHandshakeAt === Infinity) {
      // Data sent: expect to hear back within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT, or handshake anew.
      this.newHandshakeAt = now + this.ctx.timers.keepaliveTimeout + this.ctx.timers.rekeyTimeout + this.ctx.jitter();
    }
    return datagram;
  }

  private stage(packet: Uint8Array): void {
    if (this.staged.length >= this.ctx.maxStagedPackets) {
      this.staged.shift();
      this.ctx.drop('staged_overflow');
    }
    // A copy: the driver may reuse its buffer once encapsulate returns.
    this.staged.push(packet.length === 0 ? packet : packet.slice());
  }

  private flushStaged(keypair: Keypair, now: number): void {
    const endpoint = this.endpoint!;
    const staged = this.staged;
    this.staged = [];
    for (const packet of staged) this.ctx.transmit(endpoint, this.seal(keypair, packet, now));
  }

  /** Sends the staged packets, or a keepalive when there are none; stages a keepalive and handshakes without a session. */
  private sendKeepalive(now: number): void {
    const keypair = this.usableCurrent(now);
    if (!keypair || !this.endpoint) {
      if (this.staged.length === 0) this.stage(EMPTY);
      this.startHandshake(now, false);
      return;
    }
    if (this.staged.length > 0) this.flushStaged(keypair, now);
    else this.ctx.transmit(this.endpoint, this.seal(keypair, EMPTY, now));
    this.keepKeyFreshSending(keypair, now);
  }

  /** §6.2: the initiator of a session rekeys after REKEY_AFTER_TIME; either side after REKEY_AFTER_MESSAGES. */
  private keepKeyFreshSending(keypair: Keypair, now: number): void {
    if (keypair.rekeyByMessages || (keypair.isInitiator && now - keypair.created > this.ctx.timers.rekeyAfterTime)) {
      this.startHandshake(now, false);
    }
  }

  /**
   * §6.2: the initiator also rekeys when receiving on a session close to REJECT_AFTER_TIME, once, so the session
   * is replaced before it expires even if this side sends nothing.
   */
  private keepKeyFreshReceiving(now: number): void {
    const keypair = this.current;
    const t = this.ctx.timers;
    if (this.sentLastMinuteHandshake || !keypair?.isInitiator) return;
    if (now - keypair.created > t.rejectAfterTime - t.keepaliveTimeout - t.rekeyTimeout) {
      this.sentLastMinuteHandshake = true;
      this.startHandshake(now, false);
    }
  }

  // ---- handshakes ----

  /**
   * Starts (or, with `isRetry`, continues) an attempt to handshake. Trigger-happy callers are harmless: while an
   * attempt is under way new triggers are ignored, and initiations are never sent closer than REKEY_TIMEOUT apart.
   * Unlike wireguard-go, new packets do not restart the REKEY_ATTEMPT_TIME budget, so an unreachable peer is
   * reported (`handshake_failed`) even while packets keep coming.
   */
  private startHandshake(now: number, isRetry: boolean): void {
    if (!this.endpoint) return;
    const inProgress = this.retransmitAt !== Infinity;
    if (!isRetry && inProgress) return;
    const rekeyTimeout = this.ctx.timers.rekeyTimeout;
    if (now - this.lastSentHandshakeAt < rekeyTimeout) {
      // Too soon after our last handshake message: try again as soon as allowed.
      if (!inProgress) {
        this.handshakeStartedAt = now;
        this.retransmitAt = this.lastSentHandshakeAt + rekeyTimeout;
      }
      return;
    }
    if (!isRetry) this.handshakeStartedAt = now;
    this.sendInitiation(now);
  }

  private sendInitiation(now: number): void {
    const endpoint = this.endpoint!;
    if (this.initiation) this.ctx.freeIndex(this.initiation.localIndex);
    this.initiation = undefined;
    const index = this.ctx.allocateIndex(this);
    const created = createInitiation(this.ctx.local, this.identity, this.ctx.randomKey(), index, now);
    if (!created) {
      // The peer's public key is of low order: no handshake can ever succeed. Nothing to retry.
      this.ctx.freeIndex(index);
      return;
    }
    this.initiation = created.state;
    this.cookies.addMacs(created.message, now);
    this.ctx.transmit(endpoint, created.message);
    this.ctx.countSent('initiation');
    this.lastSentHandshakeAt = now;
    this.onAuthenticatedTraversal(now);
    this.keepaliveAt = Infinity;
    this.retransmitAt = now + this.ctx.timers.rekeyTimeout + this.ctx.jitter();
  }

  /** Whether `index` is the receiver index of the initiation we are waiting to have answered. */
  awaitsResponse(index: number): boolean {
    return this.initiation?.localIndex === index;
  }

  /**
   * Responds to an authenticated initiation (MACs and decryption done by the device): refuses replayed timestamps
   * and floods, derives the new session as `next` (unconfirmed until the initiator sends on it) and queues the
   * response.
   */
  acceptInitiation(consumed: ConsumedInitiation<PeerState>, from: Endpoint, now: number): DropReason | undefined {
    if (this.latestTimestamp && !isAfter(consumed.timestamp, this.latestTimestamp)) return 'stale_timestamp';
    if (now - this.lastInitiationConsumedAt <= this.ctx.timers.handshakeInitiationRate) return 'initiation_flood';
    const index = this.ctx.allocateIndex(this);
    const response = createResponse(consumed, this.ctx.randomKey(), index);
    if (!response) {
      this.ctx.freeIndex(index);
      return 'decrypt_failed';
    }
    this.latestTimestamp = consumed.timestamp;
    this.lastInitiationConsumedAt = now;
    this.onAuthenticatedReceive(from, now);

    const keypair = new Keypair(response.keys.sendKey, response.keys.recvKey, false, now, index, consumed.remoteIndex);
    this.ctx.bindIndex(index, keypair);
    this.deleteKeypair(this.next);
    this.deleteKeypair(this.previous);
    this.previous = undefined;
    this.next = keypair;
    this.zeroKeysAt = now + 3 * this.ctx.timers.rejectAfterTime;

    this.cookies.addMacs(response.message, now);
    this.ctx.transmit(this.endpoint!, response.message);
    this.ctx.countSent('response');
    this.lastSentHandshakeAt = now;
    this.onAuthenticatedTraversal(now);
    this.keepaliveAt = Infinity;
    return undefined;
  }

  /** Completes our initiation with a response whose receiver index matched (`awaitsResponse`). */
  acceptResponse(message: Uint8Array, from: Endpoint, now: number): DropReason | undefined {
    const state = this.initiation!;
    const keys = consumeResponse(this.ctx.local, this.identity, state, message);
    if (!keys) return 'decrypt_failed';
    this.initiation = undefined;
    const keypair = new Keypair(
      keys.sendKey,
      keys.recvKey,
      true,
      now,
      state.localIndex,
      readIndex(message, Response.sender),
    );
    this.ctx.bindIndex(state.localIndex, keypair);
    // Rotation as the initiator: the new session is current at once.
    if (this.next) {
      this.deleteKeypair(this.previous);
      this.deleteKeypair(this.current);
      this.previous = this.next;
      this.next = undefined;
    } else {
      this.deleteKeypair(this.previous);
      this.previous = this.current;
    }
    this.current = keypair;
    this.onAuthenticatedReceive(from, now);
    this.zeroKeysAt = now + 3 * this.ctx.timers.rejectAfterTime;
    this.handshakeComplete(now);
    // Confirm the session to the responder at once: with the staged packets, or a keepalive.
    this.sendKeepalive(now);
    return undefined;
  }

  /** Takes the cookie of a cookie reply addressed to one of our handshake messages. */
  acceptCookieReply(message: Uint8Array, now: number): DropReason | undefined {
    return this.cookies.consumeReply(message, now) ? undefined : 'bad_cookie_reply';
  }

  private handshakeComplete(now: number): void {
    this.retransmitAt = Infinity;
    this.sentLastMinuteHandshake = false;
    this.lastHandshakeAt = now;
    this.stats.handshakesCompleted++;
    this.ctx.emit({ type: 'handshake_completed', peer: this });
  }

  // ---- receiving ----

  /**
   * Bookkeeping for an authenticated transport message (decrypted and past the replay window): confirms a `next`
   * session, follows the sender's address, and runs the receive-side timers.
   */
  onTransport(keypair: Keypair, from: Endpoint, bytes: number, isData: boolean, now: number): void {
    this.stats.rxBytes += bytes;
    this.stats.rxPackets++;
    this.onAuthenticatedReceive(from, now);
    if (keypair === this.next) {
      this.deleteKeypair(this.previous);
      this.previous = this.current;
      this.current = keypair;
      this.next = undefined;
      this.handshakeComplete(now);
      const usable = this.usableCurrent(now);
      if (usable && this.staged.length > 0) this.flushStaged(usable, now);
    }
    this.keepKeyFreshReceiving(now);
    if (!isData) return;
    // Data received: if we send nothing within KEEPALIVE_TIMEOUT, a keepalive tells the peer we are alive.
    if (this.keepaliveAt === Infinity) this.keepaliveAt = now + this.ctx.timers.keepaliveTimeout;
    else this.needAnotherKeepalive = true;
  }

  private onAuthenticatedReceive(from: Endpoint, now: number): void {
    this.updateEndpoint(from);
    this.onAuthenticatedTraversal(now);
    this.newHandshakeAt = Infinity; // we heard back
  }

  private onAuthenticatedTraversal(now: number): void {
    if (this.persistentKeepalive > 0) this.persistentKeepaliveAt = now + this.persistentKeepalive * 1000;
  }

  /** Roaming (§2.1): the endpoint follows the source of the last authenticated packet. */
  private updateEndpoint(from: Endpoint): void {
    const current = this.endpoint;
    if (current && current.host === from.host && current.port === from.port) return;
    const endpoint = { host: from.host, port: from.port };
    this.endpoint = endpoint;
    this.ctx.emit({ type: 'endpoint_changed', peer: this, endpoint });
  }

  // ---- timers ----

  handleTimeout(now: number): void {
    const t = this.ctx.timers;
    if (now >= this.zeroKeysAt) {
      this.zeroKeysAt = Infinity;
      this.zeroAll();
    }
    if (this.current && this.expiryReported !== this.current && now - this.current.created >= t.rejectAfterTime) {
      this.expiryReported = this.current;
      this.ctx.emit({ type: 'session_expired', peer: this });
    }
    if (now >= this.retransmitAt) {
      this.retransmitAt = Infinity;
      if (now - this.handshakeStartedAt >= t.rekeyAttemptTime) this.giveUpHandshake(now);
      else this.startHandshake(now, true);
    }
    if (now >= this.keepaliveAt) {
      this.keepaliveAt = Infinity;
      this.sendKeepalive(now);
      if (this.needAnotherKeepalive) {
        this.needAnotherKeepalive = false;
        this.keepaliveAt = now + t.keepaliveTimeout;
      }
    }
    if (now >= this.newHandshakeAt) {
      this.newHandshakeAt = Infinity;
      this.startHandshake(now, false);
    }
    if (now >= this.persistentKeepaliveAt) {
      this.persistentKeepaliveAt = Infinity;
      if (this.persistentKeepalive > 0) this.sendKeepalive(now);
    }
  }

  /** REKEY_ATTEMPT_TIME is over: drop what waited for the session and, eventually, any partial key material. */
  private giveUpHandshake(now: number): void {
    this.keepaliveAt = Infinity;
    if (this.staged.length > 0) this.ctx.drop('handshake_failed', this.staged.length);
    this.staged = [];
    if (this.zeroKeysAt === Infinity) this.zeroKeysAt = now + 3 * this.ctx.timers.rejectAfterTime;
    this.ctx.emit({ type: 'handshake_failed', peer: this });
  }

  /** §6.3: after 3 × REJECT_AFTER_TIME without a new session, every key and handshake secret is erased. */
  private zeroAll(): void {
    this.deleteKeypair(this.previous);
    this.deleteKeypair(this.current);
    this.deleteKeypair(this.next);
    this.previous = this.current = this.next = undefined;
    if (this.initiation) this.ctx.freeIndex(this.initiation.localIndex);
    this.initiation = undefined;
    this.staged = [];
  }

  private deleteKeypair(keypair: Keypair | undefined): void {
    if (!keypair) return;
    this.ctx.freeIndex(keypair.localIndex);
    keypair.zero();
  }

  /** Forgets everything when the device removes the peer. */
  destroy(): void {
    this.zeroAll();
    this.removed = true;
    this.retransmitAt = this.keepaliveAt = this.newHandshakeAt = this.zeroKeysAt = Infinity;
    this.persistentKeepaliveAt = Infinity;
  }
}

/** Plaintext is padded to a multiple of 16 (§5.4.6), but never beyond the MTU for packets that fit it. */
export function paddedLength(length: number, mtu: number): number {
  const rounded = (length + 15) & ~15;
  return length <= mtu ? Math.min(rounded, mtu) : rounded;
}
