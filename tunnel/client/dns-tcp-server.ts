import { DnsTcpReassembler, frameTcpMessage, MAX_TCP_MESSAGE } from '../dns/index.js';

/**
 * DNS over TCP on the sentinel addresses, as a minimal sans-IO TCP responder (RFC 793/9293, RFC 7766).
 *
 * Stub resolvers (glibc after a truncated answer, `dig +tcp`, systemd-resolved) open TCP connections to a sentinel's
 * port 53. Those packets arrive on the TUN and nothing in the kernel answers them, so the client terminates TCP
 * itself. No npm package does sans-IO TCP, and we need only the passive side with one request/response pattern, so
 * it is written here, kept deliberately small:
 *
 * - Passive open only: SYN → SYN-ACK (with our MSS) → ACK; data in the handshake's final ACK is accepted.
 * - We send no window-scale, SACK-permitted or timestamp option, so by RFC 7323/2018 the peer uses none either: its
 *   window field is taken as is and it never sends SACK blocks or timestamps. Its MSS option sizes our segments.
 * - Receiving is in order only: a segment beyond `rcvNxt` is dropped and answered with a duplicate ACK (the peer
 *   retransmits); overlapping retransmissions are trimmed. Every accepted segment is ACKed at once (responses
 *   piggyback when they are ready), so a peer's delayed ACKs never stall us.
 * - Sending respects the peer's window; unacknowledged data is retransmitted go-back-N on a retransmission timer
 *   (1 s, doubling, at most 6 times, then the connection is reset). A zero window is probed by the same timer.
 * - Messages are framed by a 2-byte length (RFC 1035 4.2.2, tunnel/dns's reassembler); pipelined queries are
 *   answered as their answers come.
 * - Either side may close: the peer's FIN is ACKed and, once every outstanding query is answered and the data
 *   acknowledged, we send ours; an idle connection is closed by us after `idleTimeoutMs`. RST aborts.
 *
 * Bounded: at most `maxConnections` (SYNs beyond get RST), each with a receive buffer of one window (64 KiB) and at
 * most `maxPendingQueries` queries in flight (further messages wait in the buffer, shrinking the window).
 */

/** Randomness for initial sequence numbers (structurally the WireGuard `Rng`). */
export interface Rng {
  fill(target: Uint8Array): void;
}

export interface TcpAddress {
  /** 4 or 16 bytes. */
  address: Uint8Array;
  port: number;
}

/** A TCP segment as far as this responder cares, in either direction. */
export interface TcpSegment {
  /** Our side (the sentinel and port 53). */
  local: TcpAddress;
  /** The application's side. */
  remote: TcpAddress;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** The MSS option: read from a peer's SYN, set on our SYN-ACK. */
  mss?: number;
  payload: Uint8Array;
}

export interface TcpQuery {
  connection: number;
  /** The sentinel the connection was made to (which upstream to ask). */
  local: TcpAddress;
  message: Uint8Array;
}

export interface DnsTcpServerOptions {
  rng: Rng;
  /** Largest segment we send or accept: the TUN MTU minus IP and TCP headers. */
  ourMss: { ipv4: number; ipv6: number };
  maxConnections?: number;
  maxPendingQueries?: number;
  idleTimeoutMs?: number;
}

export interface DnsTcpServerStats {
  connectionsAccepted: number;
  connectionsRefused: number;
  resetsSent: number;
  retransmissions: number;
  outOfOrderDropped: number;
  timedOut: number;
  queries: number;
  responses: number;
}

export const Flag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

const RECEIVE_WINDOW = 0xffff;
const INITIAL_RTO_MS = 1000;
const MAX_RETRANSMISSIONS = 6;
const TIME_WAIT_MS = 2000;
const DEFAULT_PEER_MSS = { ipv4: 536, ipv6: 1220 };

type State =
  'syn_received' | 'established' | 'close_wait' | 'last_ack' | 'fin_wait_1' | 'fin_wait_2' | 'closing' | 'time_wait';

interface Connection {
  id: number;
  key: string;
  local: TcpAddress;
  remote: TcpAddress;
  state: State;
  iss: number;
  sndUna: number;
  sndNxt: number;
  /** Bytes from `sndUna` on: unacknowledged then unsent. Our FIN comes after them once `finQueued`. */
  sendBuffer: Uint8Array;
  finQueued: boolean;
  /** Our FIN is in flight (or acknowledged); go-back-N clears it to send it again. */
  finSent: boolean;
  peerWindow: number;
  segmentSize: number;
  rcvNxt: number;
  /** In-order bytes received, cut into DNS messages. Its size is what our window withholds. */
  receiveBuffer: DnsTcpReassembler;
  pendingQueries: number;
  retransmitAt: number;
  rto: number;
  retransmissions: number;
  idleAt: number;
  needsAck: boolean;
}

export class DnsTcpServer {
  readonly #connections = new Map<string, Connection>();
  readonly #byId = new Map<number, Connection>();
  readonly #segments: TcpSegment[] = [];
  readonly #queries: TcpQuery[] = [];
  readonly #maxConnections: number;
  readonly #maxPendingQueries: number;
  readonly #idleTimeoutMs: number;
  readonly #scratch = new Uint8Array(4);
  #nextId = 1;
  readonly #stats: DnsTcpServerStats = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    resetsSent: 0,
    retransmissions: 0,
    outOfOrderDropped: 0,
    timedOut: 0,
    queries: 0,
    responses: 0,
  };

  constructor(readonly options: DnsTcpServerOptions) {
    this.#maxConnections = options.maxConnections ?? 64;
    this.#maxPendingQueries = options.maxPendingQueries ?? 16;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  stats(): DnsTcpServerStats {
    return { ...this.#stats };
  }

  handleSegment(segment: TcpSegment, now: number): void {
    const key = connectionKey(segment.local, segment.remote);
    const conn = this.#connections.get(key);
    if (conn === undefined) {
      this.#handleUnknown(key, segment, now);
      return;
    }
    this.#handleForConnection(conn, segment, now);
    this.#flush(conn, now);
  }

  /** The answer to a query of `connection`; false when the connection is gone (the answer is dropped). */
  respond(connection: number, message: Uint8Array, now: number): boolean {
    const conn = this.#byId.get(connection);
    if (conn === undefined) return false;
    conn.pendingQueries = Math.max(0, conn.pendingQueries - 1);
    // After our FIN nothing more may be sent (we closed because the answer took too long).
    if (conn.finQueued || message.length > MAX_TCP_MESSAGE) return false;
    conn.sendBuffer = concat(conn.sendBuffer, frameTcpMessage(message));
    this.#stats.responses++;
    // Answering may let messages waiting in the receive buffer through.
    this.#extractQueries(conn);
    this.#flush(conn, now);
    return true;
  }

  /** A query of `connection` will not be answered (it was unreadable): free its slot without sending anything. */
  abandon(connection: number, now: number): void {
    const conn = this.#byId.get(connection);
    if (conn === undefined) return;
    conn.pendingQueries = Math.max(0, conn.pendingQueries - 1);
    this.#extractQueries(conn);
    this.#flush(conn, now);
  }

  pollSegment(): TcpSegment | undefined {
    return this.#segments.shift();
  }

  pollQuery(): TcpQuery | undefined {
    return this.#queries.shift();
  }

  pollTimeout(): number | undefined {
    let earliest: number | undefined;
    for (const conn of this.#connections.values()) {
      const at = Math.min(conn.retransmitAt, conn.idleAt);
      if (at !== Infinity && (earliest === undefined || at < earliest)) earliest = at;
    }
    return earliest;
  }

  handleTimeout(now: number): void {
    for (const conn of [...this.#connections.values()]) {
      if (now >= conn.retransmitAt) this.#retransmit(conn, now);
      if (!this.#connections.has(conn.key)) continue;
      if (now >= conn.idleAt) this.#idle(conn, now);
    }
  }

  /** Forgets every connection without a word (sign-out: the TUN goes away). */
  clear(): void {
    this.#connections.clear();
    this.#byId.clear();
    this.#segments.length = 0;
    this.#queries.length = 0;
  }

  #handleUnknown(key: string, segment: TcpSegment, now: number): void {
    if (segment.flags & Flag.RST) return;
    if (segment.flags & Flag.ACK || !(segment.flags & Flag.SYN)) {
      this.#reset(segment);
      return;
    }
    if (this.#connections.size >= this.#maxConnections) {
      this.#stats.connectionsRefused++;
      this.#reset(segment);
      return;
    }
    this.options.rng.fill(this.#scratch);
    const iss =
      ((this.#scratch[0]! << 24) | (this.#scratch[1]! << 16) | (this.#scratch[2]! << 8) | this.#scratch[3]!) >>> 0;
    const v4 = segment.local.address.length === 4;
    const ourMss = v4 ? this.options.ourMss.ipv4 : this.options.ourMss.ipv6;
    const peerMss = segment.mss ?? (v4 ? DEFAULT_PEER_MSS.ipv4 : DEFAULT_PEER_MSS.ipv6);
    const conn: Connection = {
      id: this.#nextId++,
      key,
      local: segment.local,
      remote: segment.remote,
      state: 'syn_received',
      iss,
      sndUna: iss,
      sndNxt: add(iss, 1),
      sendBuffer: new Uint8Array(0),
      finQueued: false,
      finSent: false,
      peerWindow: segment.window,
      segmentSize: Math.max(1, Math.min(ourMss, peerMss)),
      // Data on a SYN (TCP Fast Open) is not accepted: we ACK only the SYN and the peer sends it again.
      rcvNxt: add(segment.seq, 1),
      receiveBuffer: new DnsTcpReassembler(),
      pendingQueries: 0,
      retransmitAt: now + INITIAL_RTO_MS,
      rto: INITIAL_RTO_MS,
      retransmissions: 0,
      idleAt: now + this.#idleTimeoutMs,
      needsAck: false,
    };
    this.#connections.set(key, conn);
    this.#byId.set(conn.id, conn);
    this.#stats.connectionsAccepted++;
    this.#sendSynAck(conn);
  }

  #handleForConnection(conn: Connection, segment: TcpSegment, now: number): void {
    const flags = segment.flags;
    if (conn.state === 'syn_received' && flags & Flag.SYN && !(flags & Flag.ACK)) {
      // Our SYN-ACK was lost and the peer repeats its SYN.
      if (segment.seq === sub(conn.rcvNxt, 1)) this.#sendSynAck(conn);
      return;
    }
    if (flags & Flag.RST) {
      // RFC 5961: only a reset at exactly the expected sequence number aborts; others get a challenge ACK.
      if (segment.seq === conn.rcvNxt) this.#drop(conn);
      else conn.needsAck = true;
      return;
    }
    if (flags & Flag.SYN) {
      conn.needsAck = true; // challenge ACK (RFC 5961 4.2)
      return;
    }
    if (!(flags & Flag.ACK)) return;

    if (conn.state === 'syn_received') {
      if (segment.ack !== add(conn.iss, 1)) {
        this.#reset(segment);
        return;
      }
      conn.state = 'established';
    }
    this.#handleAck(conn, segment, now);
    if (!this.#connections.has(conn.key)) return;
    this.#handleData(conn, segment, now);
  }

  #handleAck(conn: Connection, segment: TcpSegment, now: number): void {
    const ack = segment.ack;
    const finSeq = add(conn.sndUna, conn.sendBuffer.length);
    if (after(ack, conn.sndNxt)) {
      conn.needsAck = true; // acknowledges something we never sent
      return;
    }
    if (after(ack, conn.sndUna)) {
      const acked = sub(ack, conn.sndUna);
      const dataAcked = Math.min(acked, conn.sendBuffer.length);
      conn.sendBuffer = conn.sendBuffer.subarray(dataAcked);
      conn.sndUna = ack;
      conn.retransmissions = 0;
      conn.rto = INITIAL_RTO_MS;
      conn.retransmitAt = conn.sndNxt === conn.sndUna ? Infinity : now + conn.rto;
      const finAcked = conn.finQueued && ack === add(finSeq, 1);
      if (finAcked) this.#onFinAcked(conn, now);
    }
    conn.peerWindow = segment.window;
    if (conn.state !== 'time_wait') conn.idleAt = now + this.#idleTimeoutMs;
  }

  #handleData(conn: Connection, segment: TcpSegment, now: number): void {
    let payload = segment.payload;
    let seq = segment.seq;
    const fin = (segment.flags & Flag.FIN) !== 0;
    if (payload.length === 0 && !fin) return;
    if (after(seq, conn.rcvNxt)) {
      // A gap: we keep only in-order data. The duplicate ACK makes the peer fill it.
      this.#stats.outOfOrderDropped++;
      conn.needsAck = true;
      return;
    }
    // Trim what we already have (a retransmission overlapping new data).
    const already = sub(conn.rcvNxt, seq);
    if (already > 0) {
      if (already >= payload.length + (fin ? 1 : 0)) {
        // A retransmission of what we have: ACK it again (in TIME-WAIT, a repeated FIN restarts the wait).
        if (conn.state === 'time_wait') conn.idleAt = now + TIME_WAIT_MS;
        conn.needsAck = true;
        return;
      }
      payload = payload.subarray(Math.min(already, payload.length));
      seq = conn.rcvNxt;
    }
    const peerClosed = conn.state === 'close_wait' || conn.state === 'last_ack' || conn.state === 'closing';
    if (peerClosed || conn.state === 'time_wait') {
      // Data after the peer's FIN is a protocol violation: ACK what we have, take nothing.
      conn.needsAck = true;
      return;
    }
    conn.idleAt = now + this.#idleTimeoutMs;
    const room = RECEIVE_WINDOW - conn.receiveBuffer.bufferedBytes;
    const accepted = payload.subarray(0, room);
    if (accepted.length > 0) {
      // The reassembler keeps views of what it is given: give it bytes of its own.
      conn.receiveBuffer.push(accepted.slice());
      conn.rcvNxt = add(conn.rcvNxt, accepted.length);
      conn.needsAck = true;
    }
    // A FIN counts only if all data before it was accepted.
    if (fin && accepted.length === payload.length) {
      conn.rcvNxt = add(conn.rcvNxt, 1);
      conn.needsAck = true;
      this.#onPeerFin(conn, now);
    }
    this.#extractQueries(conn);
  }

  #onPeerFin(conn: Connection, now: number): void {
    switch (conn.state) {
      case 'established':
        conn.state = 'close_wait';
        break;
      case 'fin_wait_1':
        conn.state = 'closing';
        break;
      case 'fin_wait_2':
        this.#enterTimeWait(conn, now);
        break;
      default:
        break;
    }
  }

  #onFinAcked(conn: Connection, now: number): void {
    switch (conn.state) {
      case 'fin_wait_1':
        conn.state = 'fin_wait_2';
        break;
      case 'closing':
        this.#enterTimeWait(conn, now);
        break;
      case 'last_ack':
        this.#drop(conn);
        break;
      default:
        break;
    }
  }

  #enterTimeWait(conn: Connection, now: number): void {
    conn.state = 'time_wait';
    conn.retransmitAt = Infinity;
    conn.idleAt = now + TIME_WAIT_MS;
  }

  #extractQueries(conn: Connection): void {
    while (conn.pendingQueries < this.#maxPendingQueries) {
      const message = conn.receiveBuffer.pollMessage();
      if (message === undefined) break;
      conn.pendingQueries++;
      this.#stats.queries++;
      this.#queries.push({ connection: conn.id, local: conn.local, message });
    }
  }

  /** Sends what the window allows, our FIN when it is due, or a bare ACK when one is owed. */
  #flush(conn: Connection, now: number): void {
    if (!this.#connections.has(conn.key) || conn.state === 'syn_received') {
      if (conn.needsAck && this.#connections.has(conn.key)) this.#sendSynAck(conn);
      conn.needsAck = false;
      return;
    }
    // With no query in flight every complete message has been taken out: what remains is an unfinished one.
    if (conn.state === 'close_wait' && conn.pendingQueries === 0 && !conn.finQueued) {
      conn.finQueued = true;
      conn.state = 'last_ack';
    }
    let sent = false;
    for (;;) {
      const inFlight = sub(conn.sndNxt, conn.sndUna);
      const unsentStart = Math.min(inFlight, conn.sendBuffer.length);
      const unsent = conn.sendBuffer.length - unsentStart;
      const allowed = Math.max(0, conn.peerWindow - inFlight);
      if (unsent > 0 && allowed > 0) {
        const size = Math.min(unsent, allowed, conn.segmentSize);
        const last = size === unsent;
        const finNow = last && conn.finQueued;
        const payload = conn.sendBuffer.subarray(unsentStart, unsentStart + size);
        this.#emit(conn, conn.sndNxt, Flag.ACK | (last ? Flag.PSH : 0) | (finNow ? Flag.FIN : 0), payload);
        conn.sndNxt = add(conn.sndNxt, size + (finNow ? 1 : 0));
        if (finNow) conn.finSent = true;
        sent = true;
        continue;
      }
      if (unsent === 0 && conn.finQueued && !conn.finSent) {
        // Everything is sent; our FIN has not been.
        this.#emit(conn, conn.sndNxt, Flag.ACK | Flag.FIN, EMPTY);
        conn.sndNxt = add(conn.sndNxt, 1);
        conn.finSent = true;
        sent = true;
      }
      break;
    }
    if (sent) {
      if (conn.retransmitAt === Infinity) conn.retransmitAt = now + conn.rto;
    } else if (conn.needsAck) {
      this.#emit(conn, conn.sndNxt, Flag.ACK, EMPTY);
    }
    // A zero window with data waiting: the retransmission timer doubles as the persist timer.
    if (conn.sendBuffer.length > 0 && conn.retransmitAt === Infinity) conn.retransmitAt = now + conn.rto;
    conn.needsAck = false;
  }

  #retransmit(conn: Connection, now: number): void {
    const outstanding = conn.state === 'syn_received' || conn.sndNxt !== conn.sndUna;
    if (!outstanding && conn.sendBuffer.length === 0) {
      conn.retransmitAt = Infinity;
      return;
    }
    if (conn.retransmissions >= MAX_RETRANSMISSIONS) {
      this.#stats.timedOut++;
      this.#emit(conn, conn.sndNxt, Flag.RST | Flag.ACK, EMPTY);
      this.#stats.resetsSent++;
      this.#drop(conn);
      return;
    }
    conn.retransmissions++;
    this.#stats.retransmissions++;
    conn.rto = Math.min(conn.rto * 2, 60_000);
    conn.retransmitAt = now + conn.rto;
    if (conn.state === 'syn_received') {
      this.#sendSynAck(conn);
      return;
    }
    if (!outstanding && conn.peerWindow === 0) {
      // Zero-window probe: one byte beyond the window.
      this.#emit(conn, conn.sndUna, Flag.ACK, conn.sendBuffer.subarray(0, 1));
      conn.sndNxt = add(conn.sndUna, 1);
      return;
    }
    // Go back N: resend from the first unacknowledged byte (at least one byte even into a closed window).
    conn.sndNxt = conn.sndUna;
    conn.finSent = false;
    const window = conn.peerWindow;
    conn.peerWindow = Math.max(window, 1);
    this.#flush(conn, now);
    conn.peerWindow = window;
  }

  #idle(conn: Connection, now: number): void {
    switch (conn.state) {
      case 'established':
        if (conn.pendingQueries > 0 || conn.sendBuffer.length > 0) {
          conn.idleAt = now + this.#idleTimeoutMs;
          return;
        }
        conn.finQueued = true;
        conn.state = 'fin_wait_1';
        conn.idleAt = now + this.#idleTimeoutMs;
        this.#flush(conn, now);
        return;
      case 'close_wait':
        // The peer closed and an answer never came: give up.
        conn.pendingQueries = 0;
        conn.idleAt = now + this.#idleTimeoutMs;
        this.#flush(conn, now);
        return;
      default:
        // time_wait over, or a half-open close that went nowhere.
        if (conn.state !== 'time_wait') this.#stats.timedOut++;
        this.#drop(conn);
    }
  }

  #sendSynAck(conn: Connection): void {
    const v4 = conn.local.address.length === 4;
    this.#segments.push({
      local: conn.local,
      remote: conn.remote,
      seq: conn.iss,
      ack: conn.rcvNxt,
      flags: Flag.SYN | Flag.ACK,
      window: RECEIVE_WINDOW,
      mss: v4 ? this.options.ourMss.ipv4 : this.options.ourMss.ipv6,
      payload: EMPTY,
    });
  }

  #emit(conn: Connection, seq: number, flags: number, payload: Uint8Array): void {
    this.#segments.push({
      local: conn.local,
      remote: conn.remote,
      seq,
      ack: conn.rcvNxt,
      flags,
      window: RECEIVE_WINDOW - conn.receiveBuffer.bufferedBytes,
      payload: payload.slice(),
    });
  }

  /** RST for a segment that belongs to no connection (RFC 9293 3.10.7.1). */
  #reset(segment: TcpSegment): void {
    this.#stats.resetsSent++;
    const hasAck = (segment.flags & Flag.ACK) !== 0;
    const length = segment.payload.length + (segment.flags & Flag.SYN ? 1 : 0) + (segment.flags & Flag.FIN ? 1 : 0);
    this.#segments.push({
      local: segment.local,
      remote: segment.remote,
      seq: hasAck ? segment.ack : 0,
      ack: hasAck ? 0 : add(segment.seq, length),
      flags: hasAck ? Flag.RST : Flag.RST | Flag.ACK,
      window: 0,
      payload: EMPTY,
    });
  }

  #drop(conn: Connection): void {
    this.#connections.delete(conn.key);
    this.#byId.delete(conn.id);
  }
}

const EMPTY = new Uint8Array(0);

function connectionKey(local: TcpAddress, remote: TcpAddress): string {
  return `${hex(local.address)}:${local.port}/${hex(remote.address)}:${remote.port}`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Sequence-number arithmetic modulo 2³². */
function add(a: number, n: number): number {
  return (a + n) >>> 0;
}

function sub(a: number, b: number): number {
  return (a - b) >>> 0;
}

/** `a` comes after `b` in sequence space. */
function after(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
