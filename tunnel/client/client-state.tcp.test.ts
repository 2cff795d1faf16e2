import { describe, expect, it } from 'vitest';
import { buildQuery, DnsType, frameTcpMessage, inspectResponse } from '../dns/index.js';
import { buildTcp, IpProtocol, Packet } from '../packet/index.js';
import { formatIp, ip, ipToBytes } from '../../protocol/ip.js';
import { CORP_RESOURCE as CORP, CLIENT_TUNNEL, Simulation, UPSTREAM_ANSWER } from './testing.js';

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;

/** What Linux puts in a SYN: MSS 1460, SACK permitted, timestamps, NOP, window scale 7. */
const LINUX_SYN_OPTIONS = new Uint8Array([2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);

/** An application's TCP connection to a sentinel's port 53, packet by packet. */
class TcpClient {
  seq = 5000;
  ack = 0;
  received: number[] = [];
  readonly port: number;
  static #nextPort = 45000;

  constructor(readonly sim: Simulation) {
    this.port = TcpClient.#nextPort++;
  }

  send(flags: number, payload: Uint8Array = new Uint8Array(0), options?: Uint8Array): void {
    this.sim.client.handleTunPacket(
      buildTcp({
        src: ipToBytes(ip(CLIENT_TUNNEL.ipv4)),
        dst: ipToBytes(ip(this.sim.sentinel)),
        srcPort: this.port,
        dstPort: 53,
        seq: this.seq,
        ack: this.ack,
        flags,
        window: 502,
        ...(options ? { options } : {}),
        payload,
      }),
      this.sim.now,
    );
    this.seq = (this.seq + payload.length + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    this.sim.pump();
  }

  /** Takes the server's segments for this connection from the TUN output. */
  take(): Packet[] {
    const mine: Packet[] = [];
    this.sim.tun = this.sim.tun.filter((bytes) => {
      const p = new Packet();
      if (p.parse(bytes) !== undefined || p.protocol !== IpProtocol.Tcp || p.dstPort !== this.port) return true;
      mine.push(p);
      return false;
    });
    for (const p of mine) {
      if (p.tcpFlags & SYN) this.ack = (p.tcpSeq + 1) >>> 0;
      else if (p.tcpSeq === this.ack) {
        this.received.push(...p.buffer.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength));
        this.ack = (this.ack + p.payloadLength + (p.tcpFlags & FIN ? 1 : 0)) >>> 0;
      }
    }
    return mine;
  }

  /** The first complete DNS message received, unframed. */
  message(): Uint8Array | undefined {
    if (this.received.length < 2) return undefined;
    const length = (this.received[0]! << 8) | this.received[1]!;
    if (this.received.length < 2 + length) return undefined;
    return Uint8Array.from(this.received.slice(2, 2 + length));
  }
}

function query(name: string, type: number = DnsType.A, id = 0x4242): Uint8Array {
  const built = buildQuery(id, name, type);
  if (!built.ok) throw new Error(built.error.message);
  return frameTcpMessage(built.value);
}

describe('ClientState DNS over TCP on the sentinels', () => {
  it('handshakes like a real stack expects and answers a resource query carried by the final ACK', () => {
    const sim = new Simulation({ resources: [CORP] });
    sim.signIn();
    const app = new TcpClient(sim);
    app.send(SYN, undefined, LINUX_SYN_OPTIONS);
    const [synAck] = app.take();
    expect(synAck!.tcpFlags).toBe(SYN | ACK);
    // Only our MSS (MTU 1280 − 40): no window scale, SACK or timestamps, so the peer uses none.
    expect(synAck!.tcpHeaderLength).toBe(24);
    expect([...synAck!.buffer.subarray(synAck!.transportOffset + 20, synAck!.transportOffset + 24)]).toEqual([
      2, 4, 0x04, 0xd8,
    ]);
    app.send(ACK | PSH, query('app.corp.test'));
    const segments = app.take();
    expect(segments.every((p) => p.tcpFlags & ACK)).toBe(true);
    const answer = inspectResponse(app.message()!);
    expect(answer.ok && answer.value.addresses.map((a) => formatIp(a.address))).toEqual([
      '100.96.0.4',
      '100.96.0.5',
      '100.96.0.6',
      '100.96.0.7',
    ]);
    // The application closes; we close too.
    app.send(ACK | FIN);
    expect(app.take().map((p) => p.tcpFlags)).toEqual([ACK | FIN]);
    app.send(ACK);
    expect(sim.client.stats().tcpConnections).toBe(0);
  });

  it('forwards other names over TCP to the upstream and relays the answer', () => {
    const sim = new Simulation({ resources: [CORP] });
    sim.signIn();
    const app = new TcpClient(sim);
    app.send(SYN, undefined, LINUX_SYN_OPTIONS);
    app.take();
    app.send(ACK);
    app.send(ACK | PSH, query('www.example.test', DnsType.A, 0x0101));
    expect(sim.upstreamQueries).toMatchObject([{ transport: 'tcp', port: 53 }]);
    sim.run(20);
    app.take();
    const answer = inspectResponse(app.message()!);
    expect(answer.ok && answer.value.id).toBe(0x0101);
    expect(answer.ok && answer.value.addresses.map((a) => formatIp(a.address))).toEqual([UPSTREAM_ANSWER]);
  });

  it('closes an idle connection itself after 10 s', () => {
    const sim = new Simulation({ resources: [CORP] });
    sim.signIn();
    const app = new TcpClient(sim);
    app.send(SYN);
    app.take();
    app.send(ACK);
    sim.run(10_000);
    expect(app.take().map((p) => p.tcpFlags)).toEqual([ACK | FIN]);
    app.send(ACK);
    app.send(ACK | FIN);
    expect(app.take().map((p) => p.tcpFlags)).toEqual([ACK]);
  });
});
