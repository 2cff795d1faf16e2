import { describe, expect, it } from 'vitest';
import { DnsTcpServer, Flag, type TcpSegment } from './dns-tcp-server.js';

const SENTINEL = { address: new Uint8Array([100, 100, 111, 1]), port: 53 };
const APP = { address: new Uint8Array([100, 64, 0, 2]), port: 40000 };

/** An rng whose every byte is `byte` (0xff puts the initial sequence number right before the wrap). */
const fixedRng = (byte: number) => ({ fill: (target: Uint8Array) => void target.fill(byte) });

function server(options: { byte?: number; maxConnections?: number } = {}): DnsTcpServer {
  return new DnsTcpServer({
    rng: fixedRng(options.byte ?? 0x10),
    ourMss: { ipv4: 1240, ipv6: 1220 },
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
  });
}

function drain(s: DnsTcpServer): TcpSegment[] {
  const out: TcpSegment[] = [];
  for (let seg = s.pollSegment(); seg; seg = s.pollSegment()) out.push(seg);
  return out;
}

function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

function message(id: number, size = 30): Uint8Array {
  const bytes = new Uint8Array(size).fill(id);
  return bytes;
}

/** The application's TCP as far as the tests need it. */
class App {
  seq = 1_000_000;
  /** Next byte we expect from the server. */
  rcv = 0;
  received: number[] = [];

  constructor(
    readonly s: DnsTcpServer,
    readonly port = APP.port,
  ) {}

  segment(flags: number, payload: Uint8Array = new Uint8Array(0), extra: Partial<TcpSegment> = {}): TcpSegment {
    return {
      local: SENTINEL,
      remote: { address: APP.address, port: this.port },
      seq: this.seq,
      ack: this.rcv,
      flags,
      window: 65535,
      payload,
      ...extra,
    };
  }

  send(flags: number, payload: Uint8Array = new Uint8Array(0), now = 0, extra: Partial<TcpSegment> = {}): TcpSegment[] {
    this.s.handleSegment(this.segment(flags, payload, extra), now);
    this.seq = (this.seq + payload.length + (flags & (Flag.SYN | Flag.FIN) ? 1 : 0)) >>> 0;
    return drain(this.s);
  }

  /** Takes the server's segments in: records in-order data and advances what we acknowledge. */
  take(segments: TcpSegment[]): void {
    for (const seg of segments) {
      if (seg.flags & Flag.SYN) {
        this.rcv = (seg.seq + 1) >>> 0;
        continue;
      }
      if (seg.seq === this.rcv) {
        this.received.push(...seg.payload);
        this.rcv = (this.rcv + seg.payload.length + (seg.flags & Flag.FIN ? 1 : 0)) >>> 0;
      }
    }
  }

  connect(now = 0, options: Partial<TcpSegment> = { mss: 1460 }): TcpSegment {
    const [synAck] = this.send(Flag.SYN, undefined, now, options);
    this.take([synAck!]);
    return synAck!;
  }

  /** Messages received so far, unframed. */
  messages(): number[][] {
    const out: number[][] = [];
    let at = 0;
    while (at + 2 <= this.received.length) {
      const length = (this.received[at]! << 8) | this.received[at + 1]!;
      if (at + 2 + length > this.received.length) break;
      out.push(this.received.slice(at + 2, at + 2 + length));
      at += 2 + length;
    }
    return out;
  }
}

describe('DnsTcpServer', () => {
  it('completes a handshake (SYN with MSS and window scale → SYN-ACK with our MSS only) and answers a query', () => {
    const s = server();
    const app = new App(s);
    const synAck = app.connect(0, { mss: 1460 });
    expect(synAck.flags).toBe(Flag.SYN | Flag.ACK);
    expect(synAck.ack).toBe(1_000_001);
    expect(synAck.mss).toBe(1240);
    expect(app.send(Flag.ACK)).toEqual([]);
    // The query in two segments: nothing until it is complete, each segment ACKed.
    const query = frame(message(7, 40));
    const first = app.send(Flag.ACK | Flag.PSH, query.subarray(0, 10), 5);
    expect(first).toHaveLength(1);
    expect(first[0]!.ack).toBe(1_000_011);
    expect(s.pollQuery()).toBeUndefined();
    app.send(Flag.ACK | Flag.PSH, query.subarray(10), 6);
    const q = s.pollQuery()!;
    expect(q.message).toEqual(message(7, 40));
    expect(s.respond(q.connection, message(8, 50), 7)).toBe(true);
    const answer = drain(s);
    expect(answer).toHaveLength(1);
    expect(answer[0]!.flags & Flag.PSH).toBeTruthy();
    app.take(answer);
    expect(app.messages()).toEqual([[...message(8, 50)]]);
  });

  it('accepts data carried by the final ACK of the handshake', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    app.send(Flag.ACK | Flag.PSH, frame(message(1)), 1);
    expect(s.pollQuery()?.message).toEqual(message(1));
  });

  it('handles sequence numbers across the 2³² wrap', () => {
    const s = server({ byte: 0xff });
    const app = new App(s);
    app.seq = 0xffff_fff0;
    const synAck = app.connect();
    expect(synAck.seq).toBe(0xffff_ffff);
    app.send(Flag.ACK | Flag.PSH, frame(message(1, 40)), 1);
    const q = s.pollQuery()!;
    s.respond(q.connection, message(2, 100), 2);
    const out = drain(s);
    expect(out[0]!.seq).toBe(0);
    app.take(out);
    expect(app.messages()).toEqual([[...message(2, 100)]]);
    // The ACK across the wrap clears the retransmission timer.
    app.send(Flag.ACK, undefined, 3);
    expect(s.pollTimeout()).toBe(3 + 10_000);
  });

  it('answers pipelined queries in the order their answers come', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    app.send(Flag.ACK | Flag.PSH, new Uint8Array([...frame(message(1)), ...frame(message(2))]), 1);
    const q1 = s.pollQuery()!;
    const q2 = s.pollQuery()!;
    s.respond(q2.connection, message(22), 2);
    s.respond(q1.connection, message(11), 3);
    app.take(drain(s));
    expect(app.messages()).toEqual([[...message(22)], [...message(11)]]);
  });

  it('segments a large answer by the MSS and keeps within the peer window', () => {
    const s = server();
    const app = new App(s);
    app.connect(0, { mss: 536 });
    app.send(Flag.ACK | Flag.PSH, frame(message(1)), 1, { window: 2000 });
    const q = s.pollQuery()!;
    s.respond(q.connection, message(9, 5000), 2);
    let out = drain(s);
    expect(out.map((seg) => seg.payload.length)).toEqual([536, 536, 536, 392]);
    app.take(out);
    // Window 2000 reached: the rest waits for an ACK.
    out = app.send(Flag.ACK, undefined, 3, { window: 65535 });
    expect(out.reduce((n, seg) => n + seg.payload.length, 0)).toBe(5002 - 2000);
    expect(out.every((seg) => seg.payload.length <= 536)).toBe(true);
    app.take(out);
    expect(app.messages()).toEqual([[...message(9, 5000)]]);
  });

  it('tolerates delayed ACKs and retransmits lost data go-back-N after 1 s, doubling', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    app.send(Flag.ACK | Flag.PSH, frame(message(1)), 0);
    s.respond(s.pollQuery()!.connection, message(5, 100), 0);
    const lost = drain(s);
    expect(lost).toHaveLength(1);
    // A delayed ACK 200 ms later is fine, nothing was resent.
    expect(s.pollTimeout()).toBe(1000);
    s.handleTimeout(999);
    expect(drain(s)).toEqual([]);
    s.handleTimeout(1000);
    const again = drain(s);
    expect(again).toHaveLength(1);
    expect(again[0]!.seq).toBe(lost[0]!.seq);
    expect(again[0]!.payload).toEqual(lost[0]!.payload);
    expect(s.pollTimeout()).toBe(3000);
    app.take(again);
    app.send(Flag.ACK, undefined, 1200);
    expect(app.messages()).toEqual([[...message(5, 100)]]);
    expect(s.stats().retransmissions).toBe(1);
  });

  it('resets the connection after 6 unanswered retransmissions', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    app.send(Flag.ACK | Flag.PSH, frame(message(1)), 0);
    s.respond(s.pollQuery()!.connection, message(5), 0);
    drain(s);
    // The idle timer fires in between and must not close a connection with unacknowledged data.
    for (let i = 0; i < 20 && s.connectionCount > 0; i++) s.handleTimeout(s.pollTimeout()!);
    const out = drain(s);
    expect(out.filter((seg) => seg.payload.length > 0)).toHaveLength(6);
    expect(out.at(-1)!.flags & Flag.RST).toBeTruthy();
    expect(s.connectionCount).toBe(0);
    expect(s.stats().timedOut).toBe(1);
  });

  it('drops out-of-order data with a duplicate ACK and trims an overlapping retransmission', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    const query = frame(message(3, 60));
    const start = app.seq;
    // The second half arrives first.
    app.seq = start + 31;
    const dup = app.send(Flag.ACK, query.subarray(31), 1);
    expect(dup).toHaveLength(1);
    expect(dup[0]!.ack).toBe(start);
    expect(s.stats().outOfOrderDropped).toBe(1);
    // First half, then a retransmission of everything.
    app.seq = start;
    app.send(Flag.ACK, query.subarray(0, 31), 2);
    app.seq = start;
    app.send(Flag.ACK, query, 3);
    expect(s.pollQuery()?.message).toEqual(message(3, 60));
    expect(s.pollQuery()).toBeUndefined();
  });

  it('closes after the peer: FIN after the answer is ACKed with our FIN, then forgotten', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    app.send(Flag.ACK | Flag.PSH, frame(message(1)), 1);
    s.respond(s.pollQuery()!.connection, message(2), 2);
    app.take(drain(s));
    const out = app.send(Flag.ACK | Flag.FIN, undefined, 3);
    expect(out).toHaveLength(1);
    expect(out[0]!.flags).toBe(Flag.ACK | Flag.FIN);
    app.take(out);
    expect(out[0]!.ack).toBe(app.seq);
    app.send(Flag.ACK, undefined, 4);
    expect(s.connectionCount).toBe(0);
  });

  it('answers a query whose sender half-closed before the answer came', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    const out = app.send(Flag.ACK | Flag.PSH | Flag.FIN, frame(message(1)), 1);
    expect(out.map((seg) => seg.flags)).toEqual([Flag.ACK]);
    s.respond(s.pollQuery()!.connection, message(2), 50);
    const answer = drain(s);
    expect(answer.at(-1)!.flags & Flag.FIN).toBeTruthy();
    app.take(answer);
    expect(app.messages()).toEqual([[...message(2)]]);
    app.send(Flag.ACK, undefined, 51);
    expect(s.connectionCount).toBe(0);
  });

  it('closes an idle connection itself and passes through TIME-WAIT', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    app.send(Flag.ACK, undefined, 0);
    s.handleTimeout(10_000);
    const fin = drain(s);
    expect(fin.map((seg) => seg.flags)).toEqual([Flag.ACK | Flag.FIN]);
    app.take(fin);
    expect(app.send(Flag.ACK, undefined, 10_001)).toEqual([]);
    const lastAck = app.send(Flag.ACK | Flag.FIN, undefined, 10_002);
    expect(lastAck.map((seg) => seg.flags)).toEqual([Flag.ACK]);
    // A retransmitted FIN in TIME-WAIT is ACKed again.
    app.seq -= 1;
    expect(app.send(Flag.ACK | Flag.FIN, undefined, 10_500).map((seg) => seg.flags)).toEqual([Flag.ACK]);
    s.handleTimeout(12_499);
    expect(s.connectionCount).toBe(1);
    s.handleTimeout(12_500);
    expect(s.connectionCount).toBe(0);
  });

  it('aborts on a RST at the expected sequence number and challenges any other', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    app.send(Flag.ACK, undefined, 0);
    app.seq += 100;
    expect(app.send(Flag.RST, undefined, 1).map((seg) => seg.flags)).toEqual([Flag.ACK]);
    expect(s.connectionCount).toBe(1);
    app.seq -= 100;
    expect(app.send(Flag.RST, undefined, 2)).toEqual([]);
    expect(s.connectionCount).toBe(0);
  });

  it('resets segments of unknown connections and SYNs beyond the connection limit', () => {
    const s = server({ maxConnections: 1 });
    const stray = new App(s, 40001).send(Flag.ACK, new Uint8Array(5), 0);
    expect(stray).toHaveLength(1);
    expect(stray[0]!.flags).toBe(Flag.RST);
    new App(s, 40002).connect();
    const refused = new App(s, 40003).send(Flag.SYN, undefined, 0);
    expect(refused[0]!.flags).toBe(Flag.RST | Flag.ACK);
    expect(s.stats().connectionsRefused).toBe(1);
    // A RST to nothing is not answered.
    expect(new App(s, 40004).send(Flag.RST)).toEqual([]);
  });

  it('repeats its SYN-ACK for a repeated SYN and on its own timer', () => {
    const s = server();
    const app = new App(s);
    const synAck = app.connect();
    app.seq -= 1;
    expect(app.send(Flag.SYN, undefined, 100)).toEqual([synAck]);
    s.handleTimeout(1000);
    expect(drain(s)).toEqual([synAck]);
  });

  it('waits on a zero window and probes it', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    app.send(Flag.ACK | Flag.PSH, frame(message(1)), 0, { window: 0 });
    s.respond(s.pollQuery()!.connection, message(2), 0);
    expect(drain(s)).toEqual([]);
    s.handleTimeout(s.pollTimeout()!);
    const probe = drain(s);
    expect(probe.map((seg) => seg.payload.length)).toEqual([1]);
    app.take(probe);
    const rest = app.send(Flag.ACK, undefined, 2500, { window: 65535 });
    app.take(rest);
    expect(app.messages()).toEqual([[...message(2)]]);
  });

  it('bounds queries in flight per connection; the rest wait in the receive window', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    const many = new Uint8Array(Array.from({ length: 20 }, (_, i) => [...frame(message(i, 10))]).flat());
    const ack = app.send(Flag.ACK | Flag.PSH, many, 1);
    let queries = 0;
    const ids: number[] = [];
    for (let q = s.pollQuery(); q; q = s.pollQuery()) {
      queries++;
      ids.push(q.connection);
    }
    expect(queries).toBe(16);
    expect(ack[0]!.window).toBe(65535 - 4 * 12);
    s.respond(ids[0]!, message(0), 2);
    expect(s.pollQuery()?.message).toEqual(message(16, 10));
  });

  it('drops answers for connections that are gone', () => {
    const s = server();
    const app = new App(s);
    app.connect();
    app.send(Flag.ACK | Flag.PSH, frame(message(1)), 0);
    const q = s.pollQuery()!;
    app.send(Flag.RST, undefined, 1);
    expect(s.respond(q.connection, message(2), 2)).toBe(false);
  });
});
