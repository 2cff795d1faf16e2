import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../protocol/resources.js';
import { CONTROL_PORT } from '../../protocol/tunnel-control.js';
import { GatewayState, type GatewayTransmit } from '../../tunnel/gateway/state.js';
import {
  IpProtocol,
  Packet,
  TcpFlag,
  buildIcmpEcho,
  buildIcmpError,
  buildTcp,
  buildUdp,
  parseAddress,
} from '../../tunnel/packet/index.js';
import { Namespace, netnsUnavailableReason, run, type BackgroundProcess } from '../netns/index.js';

/**
 * The packets `GatewayState` makes by NAT64 — TCP, UDP, ICMP echo and ICMP errors translated from IPv6 to IPv4 — put
 * in front of a real kernel: a namespace whose TUN carries the client's tunnel address, where real sockets and ping
 * talk to a mapped IP. The kernel only completes a TCP handshake, delivers a datagram, reports ECONNREFUSED or counts
 * a ping reply when addresses, ports and every checksum are right.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const skip = netnsUnavailableReason();
if (skip) console.warn(`skipping e2e/gateway translated-packet tests: ${skip}`);

const T0 = 1_800_000_000_000;
const ip = (t: string) => parseAddress(t)!;
const CLIENT = { id: 'c', publicKey: 'A'.repeat(43) + '=', tunnel: { ipv4: '100.64.0.2', ipv6: 'fd00:2021:1111::2' } };
const WEB: Resource = {
  id: 'web',
  type: 'dns',
  name: 'w',
  siteId: 's',
  address: '*.corp.test',
  ipStack: 'dual',
  filters: [],
};
const MAPPED = '100.96.1.1';
const REAL = 'fd00:99::6';

/** Keeps a UDP socket bound to the client's tunnel address; prints what it receives and its errors. */
const UDP_APP = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m) => console.log('got ' + m));
s.on('error', (e) => console.log('error ' + e.code));
s.bind(5000, '100.64.0.2', () => s.connect(9999, '${MAPPED}', () => {
  console.log('bound');
  require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => s.send(l));
}));
`;

const TCP_APP = `
const c = require('node:net').connect({ host: '${MAPPED}', port: 80, localAddress: '100.64.0.2' });
c.on('connect', () => { console.log('connected'); process.exit(0); });
c.on('error', (e) => console.log('error ' + e.code));
`;

describe.skipIf(skip)('NAT64 packets accepted by a real kernel', () => {
  let ns: Namespace;
  let relay: BackgroundProcess;
  let consumed = 0;
  const state = new GatewayState();
  let now = T0;

  beforeAll(async () => {
    await run('npx', ['tsc', '-b'], { timeoutMs: 120_000 });
    ns = await Namespace.create('nat64');
    const name = `ptk${randomBytes(3).toString('hex')}`;
    relay = ns.spawn('tun-relay', 'node', [join(ROOT, 'dist/e2e/gateway/tun-relay.js'), name], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    await relay.waitForOutput(/ready/);
    await ns.exec('ip', ['addr', 'add', '100.64.0.2/32', 'dev', name]);
    await ns.exec('ip', ['-6', 'addr', 'add', 'fd00:2021:1111::2/128', 'dev', name, 'nodad']);
    await ns.exec('ip', ['route', 'add', '100.96.0.0/11', 'dev', name]);

    state.handlePortalMessage(
      { type: 'init', gateway: { id: 'g', siteId: 's', tunnel: { ipv4: '100.64.0.1', ipv6: 'fd00:2021:1111::1' } } },
      now,
    );
    state.handlePortalMessage(
      {
        type: 'authorize_client',
        ref: 'r',
        client: CLIENT,
        resource: WEB,
        presharedKey: 'P'.repeat(43) + '=',
        expiresAt: T0 + 3_600_000,
      },
      now,
    );
    const control = buildUdp({
      src: ip(CLIENT.tunnel.ipv4),
      dst: ip('100.64.0.1'),
      srcPort: 1,
      dstPort: CONTROL_PORT,
      payload: new TextEncoder().encode(
        JSON.stringify({ type: 'assigned_ips', resourceId: 'web', domain: 'v6only.corp.test', proxyIps: [MAPPED] }),
      ),
    });
    state.handleClientPacket(CLIENT.id, Buffer.from(control), now);
    for (let r = state.pollResolveRequest(); r; r = state.pollResolveRequest()) {
      const records = r.type === 'AAAA' ? [{ address: REAL, ttl: 3600 }] : [];
      state.handleResolveAnswer(r.id, { ok: true, records }, now);
    }
    drain();
  }, 180_000);

  afterAll(async () => {
    relay?.child.stdin?.end();
    await relay?.stop();
    await ns?.destroy();
  });

  function drain(): GatewayTransmit[] {
    const out: GatewayTransmit[] = [];
    for (let t = state.pollTransmit(); t; t = state.pollTransmit()) out.push(t);
    return out;
  }

  /** The next IPv4 packet of `protocol` the kernel sent into the TUN toward the mapped IP. */
  async function fromKernel(protocol: number): Promise<Buffer> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const lines = relay.text.split('\n').filter((l) => l.startsWith('pkt '));
      while (consumed < lines.length) {
        const packet = Buffer.from(lines[consumed++]!.slice(4), 'hex');
        const toMapped = packet[0]! >> 4 === 4 && packet.subarray(16, 20).equals(Buffer.from(ip(MAPPED)));
        if (toMapped && packet[9] === protocol) return packet;
      }
      if (Date.now() > deadline) throw new Error(`no packet from the kernel:\n${relay.text}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Through the gateway toward the (imaginary) IPv6 server: the translated IPv6 packet. */
  function outbound(packet: Buffer): Packet {
    state.handleClientPacket(CLIENT.id, packet, (now += 10));
    const [tx, ...rest] = drain();
    expect(rest).toEqual([]);
    expect(tx?.to).toBe('network');
    const p = new Packet();
    expect(p.parse(tx!.packet)).toBeUndefined();
    expect(p.version).toBe(6);
    return p;
  }

  /** A reply from the IPv6 server through the gateway, written into the TUN for the kernel. */
  function inbound(packet: Uint8Array): void {
    state.handleNetworkPacket(Buffer.from(packet), (now += 10));
    const [tx, ...rest] = drain();
    expect(rest).toEqual([]);
    expect(tx?.to).toBe('client');
    expect(tx!.packet[0]! >> 4).toBe(4);
    relay.child.stdin!.write(`${Buffer.from(tx!.packet).toString('hex')}\n`);
  }

  it('completes a TCP handshake with translated SYN-ACK', async () => {
    const app = ns.spawn('tcp-app', 'node', ['-e', TCP_APP]);
    const syn = outbound(await fromKernel(IpProtocol.Tcp));
    expect([syn.protocol, syn.tcpFlags & TcpFlag.SYN]).toEqual([IpProtocol.Tcp, TcpFlag.SYN]);
    inbound(
      buildTcp({
        src: ip(REAL),
        dst: ip(CLIENT.tunnel.ipv6),
        srcPort: 80,
        dstPort: syn.srcPort,
        seq: 7000,
        ack: (syn.tcpSeq + 1) >>> 0,
        flags: TcpFlag.SYN | TcpFlag.ACK,
        window: 65535,
      }),
    );
    await app.waitForOutput(/connected/);
    await app.wait();
  });

  it('delivers a translated UDP reply, and a translated ICMPv6 port unreachable as ECONNREFUSED', async () => {
    const app = ns.spawn('udp-app', 'node', ['-e', UDP_APP], { stdio: ['pipe', 'pipe', 'pipe'] });
    await app.waitForOutput(/bound/);
    app.child.stdin!.write('ping\n');
    const sent = outbound(await fromKernel(IpProtocol.Udp));
    inbound(
      buildUdp({
        src: ip(REAL),
        dst: ip(CLIENT.tunnel.ipv6),
        srcPort: 9999,
        dstPort: sent.srcPort,
        payload: new TextEncoder().encode('pong'),
      }),
    );
    await app.waitForOutput(/got pong/);

    app.child.stdin!.write('again\n');
    const second = outbound(await fromKernel(IpProtocol.Udp));
    inbound(buildIcmpError(second, { src: ip(REAL), kind: 'port-unreachable' }) as Uint8Array);
    await app.waitForOutput(/error ECONNREFUSED/);
    app.child.stdin!.end();
    await app.stop();
  });

  it('answers ping with a translated echo reply', async () => {
    const ping = ns.spawn('ping', 'ping', ['-c', '1', '-W', '5', MAPPED]);
    const request = outbound(await fromKernel(IpProtocol.Icmp));
    expect(request.protocol).toBe(IpProtocol.Icmpv6);
    const payload = request.buffer.subarray(request.payloadOffset, request.end);
    inbound(
      buildIcmpEcho({
        src: ip(REAL),
        dst: ip(CLIENT.tunnel.ipv6),
        reply: true,
        id: request.icmpId,
        seq: request.icmpSeq,
        payload,
      }),
    );
    await ping.wait();
    expect(ping.text).toMatch(/1 received/);
  });
});
