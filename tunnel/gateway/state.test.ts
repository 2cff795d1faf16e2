import { describe, expect, it } from 'vitest';
import type { Resource } from '../../protocol/resources.js';
import { CONTROL_COPIES, CONTROL_PORT } from '../../protocol/tunnel-control.js';
import {
  IpProtocol,
  Packet,
  TcpFlag,
  addressToString,
  buildIcmpEcho,
  buildIcmpError,
  buildTcp,
  buildUdp,
  parseAddress,
} from '../packet/index.js';
import { checksumProblems } from '../testing/checksums.js';
import { formatAccessLog } from './access-log.js';
import { NAT_TIMEOUTS } from './nat-table.js';
import { GatewayState, type GatewayEvent, type GatewayTransmit } from './state.js';

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;
const ip = (text: string) => parseAddress(text)!;
const KEY_A = 'A'.repeat(43) + '=';
const KEY_B = 'B'.repeat(43) + '=';
const PSK = 'P'.repeat(43) + '=';

const GATEWAY = { ipv4: '100.64.0.1', ipv6: 'fd00:2021:1111::1' };
const CLIENT_A = { id: 'client-a', publicKey: KEY_A, tunnel: { ipv4: '100.64.0.2', ipv6: 'fd00:2021:1111::2' } };
const CLIENT_B = { id: 'client-b', publicKey: KEY_B, tunnel: { ipv4: '100.64.0.3', ipv6: 'fd00:2021:1111::3' } };
type Client = typeof CLIENT_A;

const WEB: Resource = {
  id: 'web',
  type: 'dns',
  name: 'web',
  siteId: 's',
  address: '*.corp.test',
  ipStack: 'dual',
  filters: [],
};
const SSH: Resource = {
  id: 'ssh',
  type: 'dns',
  name: 'ssh',
  siteId: 's',
  address: 'ssh.corp.test',
  ipStack: 'dual',
  filters: [{ protocol: 'tcp', portStart: 22, portEnd: 22 }],
};
const NET: Resource = {
  id: 'net',
  type: 'cidr',
  name: 'net',
  siteId: 's',
  address: '10.1.0.0/16',
  filters: [{ protocol: 'tcp', portStart: 80, portEnd: 80 }, { protocol: 'icmp' }],
};
/** A (mis)configured resource covering the tunnel range: must still never reach another client. */
const TUNNEL_NET: Resource = { ...NET, id: 'tunnel-net', address: '100.64.0.0/11', filters: [] };

/** Mapped IPs as a client would assign them: 4 IPv4 + 4 IPv6 per domain. */
function mapped(n: number): string[] {
  return [...[1, 2, 3, 4].map((i) => `100.96.${n}.${i}`), ...[1, 2, 3, 4].map((i) => `fd00:2021:1111:8000::${n}:${i}`)];
}

type Records = Record<string, { A?: string[]; AAAA?: string[]; ttl?: number }>;

class Harness {
  readonly state = new GatewayState({ minRuleTimeMs: 5_000, maxRuleTimeMs: 60_000 });
  now = T0;
  readonly events: GatewayEvent[] = [];

  constructor() {
    this.state.handlePortalMessage({ type: 'init', gateway: { id: 'g', siteId: 's', tunnel: GATEWAY } }, this.now);
  }

  authorize(client: Client, resource: Resource, expiresAt = this.now + HOUR): void {
    this.state.handlePortalMessage(
      { type: 'authorize_client', ref: `${client.id}/${resource.id}`, client, resource, presharedKey: PSK, expiresAt },
      this.now,
    );
    this.drainEvents();
  }

  drainEvents(): GatewayEvent[] {
    const out: GatewayEvent[] = [];
    for (let e = this.state.pollEvent(); e; e = this.state.pollEvent()) out.push(e);
    this.events.push(...out);
    return out;
  }

  accessLog(): string[] {
    this.drainEvents();
    return this.events.flatMap((e) => (e.type === 'access' ? [formatAccessLog(e.entry)] : []));
  }

  transmits(): GatewayTransmit[] {
    const out: GatewayTransmit[] = [];
    for (let t = this.state.pollTransmit(); t; t = this.state.pollTransmit()) out.push(t);
    return out;
  }

  /** The client sends `assigned_ips` through the tunnel; the resolver answers from `records`. */
  assign(client: Client, resourceId: string, domain: string, proxyIps: string[], records: Records): unknown[] {
    this.control(client, { type: 'assigned_ips', resourceId, domain, proxyIps });
    this.resolve(records);
    return this.controlReplies(client);
  }

  control(client: Client, message: unknown, family: 4 | 6 = 4): void {
    const packet = buildUdp({
      src: ip(family === 4 ? client.tunnel.ipv4 : client.tunnel.ipv6),
      dst: ip(family === 4 ? GATEWAY.ipv4 : GATEWAY.ipv6),
      srcPort: 50_000,
      dstPort: CONTROL_PORT,
      payload: new TextEncoder().encode(JSON.stringify(message)),
    });
    this.state.handleClientPacket(client.id, packet, this.now);
  }

  resolve(records: Records): void {
    for (let r = this.state.pollResolveRequest(); r; r = this.state.pollResolveRequest()) {
      const rec = records[r.domain];
      const addresses = (r.type === 'A' ? rec?.A : rec?.AAAA) ?? [];
      const answer = { ok: true as const, records: addresses.map((address) => ({ address, ttl: rec?.ttl ?? 30 })) };
      this.state.handleResolveAnswer(r.id, answer, this.now);
    }
  }

  /** The control messages sent to `client`, each `domain_status` checked to come in CONTROL_COPIES copies. */
  controlReplies(client: Client): unknown[] {
    const messages = this.controlCopies(client);
    const replies: unknown[] = [];
    for (let i = 0; i < messages.length;) {
      const message = messages[i]!;
      const copies = (message as { type?: string }).type === 'domain_status' ? CONTROL_COPIES : 1;
      expect(messages.slice(i, i + copies)).toEqual(Array(copies).fill(message));
      replies.push(message);
      i += copies;
    }
    return replies;
  }

  /** The control messages sent to `client`, copies included. */
  controlCopies(client: Client): unknown[] {
    return this.transmits().map((t) => {
      expect(t.to).toBe('client');
      if (t.to !== 'client') throw new Error('unreachable');
      expect(t.clientId).toBe(client.id);
      const p = parse(t.packet);
      expect(p.protocol).toBe(IpProtocol.Udp);
      expect(p.srcPort).toBe(CONTROL_PORT);
      expect(p.dstPort).toBe(50_000);
      expect(addressToString(p.srcAddress())).toBe(p.version === 4 ? GATEWAY.ipv4 : GATEWAY.ipv6);
      return JSON.parse(new TextDecoder().decode(p.buffer.subarray(p.payloadOffset, p.end)));
    });
  }

  /** Packets arrive as Buffers in the daemon (WireGuard and the TUN); so they do here. */
  fromClient(client: Client, packet: Uint8Array): GatewayTransmit[] {
    this.state.handleClientPacket(client.id, Buffer.from(packet), this.now);
    return this.transmits();
  }

  fromNetwork(packet: Uint8Array): GatewayTransmit[] {
    this.state.handleNetworkPacket(Buffer.from(packet), this.now);
    return this.transmits();
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (let t = this.state.pollTimeout(); t !== undefined && t <= until; t = this.state.pollTimeout()) {
      this.now = Math.max(this.now, t);
      this.state.handleTimeout(this.now);
    }
    this.now = until;
    this.state.handleTimeout(this.now);
  }
}

/** Parses and checks every checksum the kernel would check (IPv4 header, TCP/UDP/ICMP/ICMPv6). */
function parse(packet: Uint8Array): Packet {
  const p = new Packet();
  expect(p.parse(packet)).toBeUndefined();
  expect(checksumProblems(p)).toEqual([]);
  return p;
}

/** The proxy IPs of `nat_missing` messages among `transmits`, each checked as a control packet to client A. */
function natMissing(transmits: GatewayTransmit[]): string[] {
  return transmits.map((t) => {
    if (t.to !== 'client') throw new Error(`expected a control message, got a packet to the ${t.to}`);
    expect(t.clientId).toBe(CLIENT_A.id);
    const p = parse(t.packet);
    expect([p.protocol, p.srcPort, p.dstPort]).toEqual([IpProtocol.Udp, CONTROL_PORT, CONTROL_PORT]);
    expect([addressToString(p.srcAddress()), addressToString(p.dstAddress())]).toEqual([GATEWAY.ipv4, A4]);
    const message = JSON.parse(new TextDecoder().decode(p.buffer.subarray(p.payloadOffset, p.end))) as {
      type: string;
      proxyIp: string;
    };
    expect(message.type).toBe('nat_missing');
    return message.proxyIp;
  });
}

function only(transmits: GatewayTransmit[], to: 'client' | 'network'): Packet {
  expect(transmits).toHaveLength(1);
  expect(transmits[0]!.to).toBe(to);
  return parse(transmits[0]!.packet);
}

function tcp(src: string, dst: string, srcPort: number, dstPort: number, flags: number = TcpFlag.SYN): Uint8Array {
  return buildTcp({ src: ip(src), dst: ip(dst), srcPort, dstPort, seq: 1000, ack: 0, flags, window: 65535 });
}

function udp(src: string, dst: string, srcPort: number, dstPort: number, payload = 'hello'): Uint8Array {
  return buildUdp({ src: ip(src), dst: ip(dst), srcPort, dstPort, payload: new TextEncoder().encode(payload) });
}

function echo(src: string, dst: string, id: number, reply = false): Uint8Array {
  return buildIcmpEcho({ src: ip(src), dst: ip(dst), id, seq: 1, reply, payload: new Uint8Array([1, 2, 3, 4]) });
}

const A4 = CLIENT_A.tunnel.ipv4;
const A6 = CLIENT_A.tunnel.ipv6;

describe('GatewayState: authorizations and peers', () => {
  it('installs the peer before answering client_authorized, and removes it when the last authorization ends', () => {
    const h = new Harness();
    h.state.handlePortalMessage(
      { type: 'authorize_client', ref: 'r1', client: CLIENT_A, resource: WEB, presharedKey: PSK, expiresAt: T0 + HOUR },
      h.now,
    );
    expect(h.drainEvents().map((e) => e.type)).toEqual(['peer_upserted', 'to_portal']);
    h.authorize(CLIENT_A, NET, T0 + 2 * HOUR);
    expect(h.state.stats().clients).toBe(1);
    h.state.handlePortalMessage({ type: 'revoke_authorization', clientId: CLIENT_A.id, resourceId: 'net' }, h.now);
    expect(h.drainEvents()).toEqual([]);
    h.advance(HOUR);
    expect(h.drainEvents()).toEqual([{ type: 'peer_removed', clientId: CLIENT_A.id, publicKey: KEY_A }]);
    expect(h.state.stats().clients).toBe(0);
    expect(h.fromClient(CLIENT_A, udp(A4, '10.1.0.5', 1, 80))).toEqual([]);
    expect(h.state.stats().drops.unknown_client).toBe(1);
  });

  it('refuses an authorization that already expired or takes another client’s tunnel address', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB, T0 - 1);
    h.authorize(CLIENT_A, WEB);
    h.authorize({ ...CLIENT_B, tunnel: CLIENT_A.tunnel }, WEB);
    const types = h.events.map((e) => e.type);
    expect(types).toEqual(['portal_problem', 'peer_upserted', 'to_portal', 'portal_problem']);
  });

  it('keeps a re-keyed client’s flows, and starts afresh when its tunnel addresses change', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, NET);
    only(h.fromClient(CLIENT_A, tcp(A4, '10.1.2.3', 40000, 80)), 'network');
    h.authorize({ ...CLIENT_A, publicKey: KEY_B }, NET);
    expect(h.drainEvents().map((e) => e.type)).toEqual([]);
    expect(h.events.slice(-3).map((e) => e.type)).toEqual(['peer_removed', 'peer_upserted', 'to_portal']);
    expect(h.state.stats().natEntries).toBe(1);
    h.authorize({ ...CLIENT_A, publicKey: KEY_B, tunnel: { ipv4: '100.64.0.9', ipv6: 'fd00:2021:1111::9' } }, NET);
    expect(h.state.stats().natEntries).toBe(0);
    expect(only(h.fromClient(CLIENT_A, tcp('100.64.0.9', '10.1.2.3', 40000, 80)), 'network').srcPort).toBe(40000);
  });

  it('revoking every authorization of a client removes its peer at once', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    h.authorize(CLIENT_A, NET);
    h.state.handlePortalMessage({ type: 'revoke_authorization', clientId: CLIENT_A.id }, h.now);
    expect(h.drainEvents()).toEqual([{ type: 'peer_removed', clientId: CLIENT_A.id, publicKey: KEY_A }]);
  });
});

describe('GatewayState: DNS resources', () => {
  it('resolves A and AAAA for an authorized domain (case and trailing dot ignored) and answers Active', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    h.control(CLIENT_A, { type: 'assigned_ips', resourceId: 'web', domain: 'App.Corp.Test.', proxyIps: mapped(1) });
    const a = h.state.pollResolveRequest()!;
    const aaaa = h.state.pollResolveRequest()!;
    expect([a, aaaa].map((r) => `${r.type} ${r.domain}`)).toEqual(['A app.corp.test', 'AAAA app.corp.test']);
    h.state.handleResolveAnswer(a.id, { ok: true, records: [{ address: '10.0.0.5', ttl: 30 }] }, h.now);
    expect(h.transmits()).toEqual([]);
    h.state.handleResolveAnswer(aaaa.id, { ok: true, records: [] }, h.now);
    expect(h.controlReplies(CLIENT_A)).toEqual([
      // The answer echoes the request as the client wrote it, so the client matches it without normalizing.
      { type: 'domain_status', resourceId: 'web', domain: 'App.Corp.Test.', status: 'active' },
    ]);
    expect(h.accessLog()).toEqual([
      '100.64.0.2 -> [1] app.corp.test',
      '100.64.0.2 <- [1] app.corp.test [10.0.0.5] TTL:30',
    ]);
  });

  it('answers the copies of one assigned_ips once, in CONTROL_COPIES copies, after one resolution', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    const message = { type: 'assigned_ips', resourceId: 'web', domain: 'app.corp.test', proxyIps: mapped(1) };
    for (let i = 0; i < CONTROL_COPIES; i++) h.control(CLIENT_A, message);
    const a = h.state.pollResolveRequest()!;
    const aaaa = h.state.pollResolveRequest()!;
    expect(h.state.pollResolveRequest()).toBeUndefined();
    h.state.handleResolveAnswer(a.id, { ok: true, records: [{ address: '10.0.0.5', ttl: 30 }] }, h.now);
    h.state.handleResolveAnswer(aaaa.id, { ok: true, records: [] }, h.now);
    const active = { type: 'domain_status', resourceId: 'web', domain: 'app.corp.test', status: 'active' };
    expect(h.controlCopies(CLIENT_A)).toEqual(Array(CONTROL_COPIES).fill(active));
  });

  it('answers Inactive for a domain outside the resource, an unauthorized resource, and a name without records', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, SSH);
    expect(h.assign(CLIENT_A, 'ssh', 'web.corp.test', mapped(1), {})).toMatchObject([{ status: 'inactive' }]);
    expect(h.assign(CLIENT_A, 'web', 'app.corp.test', mapped(1), {})).toMatchObject([{ status: 'inactive' }]);
    expect(h.assign(CLIENT_A, 'ssh', 'ssh.corp.test', mapped(1), {})).toMatchObject([{ status: 'inactive' }]);
    expect(h.assign(CLIENT_A, 'ssh', 'a b.corp.test', mapped(1), {})).toMatchObject([{ status: 'inactive' }]);
    expect(h.accessLog()).toEqual([
      '100.64.0.2 |> [1] web.corp.test not authorized',
      '100.64.0.2 |> [2] app.corp.test not authorized',
      '100.64.0.2 -> [3] ssh.corp.test',
      '100.64.0.2 <! [3] ssh.corp.test no records',
      '100.64.0.2 |> [4] a b.corp.test not a domain name',
    ]);
    // The mapping of the name without records is gone: the packet is dropped and the client told (it ignores
    // `nat_missing` for a Failed name).
    expect(natMissing(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40000, 22)))).toEqual(['100.96.1.1']);
    expect(h.state.stats().drops.not_authorized).toBe(1);
  });

  it('times out a resolver that does not answer within 10 s', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    h.control(CLIENT_A, { type: 'assigned_ips', resourceId: 'web', domain: 'slow.corp.test', proxyIps: mapped(1) });
    expect(h.state.pollResolveRequest()).toBeDefined();
    h.advance(9_999);
    expect(h.transmits()).toEqual([]);
    h.advance(1);
    expect(h.controlReplies(CLIENT_A)).toMatchObject([{ status: 'inactive' }]);
    expect(h.accessLog().at(-1)).toBe('100.64.0.2 <! [1] slow.corp.test timeout, timeout');
  });

  it('cycles mapped IPs through the records (round robin survives)', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    h.assign(CLIENT_A, 'web', 'rr.corp.test', mapped(1), { 'rr.corp.test': { A: ['10.0.0.1', '10.0.0.2'] } });
    const reals = [1, 2, 3, 4].map((i) => {
      const out = only(h.fromClient(CLIENT_A, tcp(A4, `100.96.1.${i}`, 40000 + i, 443)), 'network');
      return addressToString(out.dstAddress());
    });
    expect(reals).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.2']);
  });

  it('translates a TCP flow to the real IP and back, source left to the kernel’s masquerade', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    h.assign(CLIENT_A, 'web', 'app.corp.test', mapped(1), {
      'app.corp.test': { A: ['10.0.0.5'], AAAA: ['fd00:99::5'] },
    });

    const out = only(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40000, 443)), 'network');
    expect([addressToString(out.srcAddress()), addressToString(out.dstAddress()), out.srcPort, out.dstPort]).toEqual([
      A4,
      '10.0.0.5',
      40000,
      443,
    ]);
    const back = only(h.fromNetwork(tcp('10.0.0.5', A4, 443, 40000, TcpFlag.SYN | TcpFlag.ACK)), 'client');
    expect([
      addressToString(back.srcAddress()),
      addressToString(back.dstAddress()),
      back.srcPort,
      back.dstPort,
    ]).toEqual(['100.96.1.1', A4, 443, 40000]);
    const out6 = only(h.fromClient(CLIENT_A, tcp(A6, 'fd00:2021:1111:8000::1:2', 40000, 443)), 'network');
    expect(addressToString(out6.dstAddress())).toBe('fd00:99::5');
    expect(h.accessLog().filter((l) => l.includes('~>'))).toEqual([
      '100.64.0.2 ~> tcp 100.96.1.1:443 app.corp.test => 10.0.0.5:443',
      '100.64.0.2 ~> tcp [fd00:2021:1111:8000::1:2]:443 app.corp.test => [fd00:99::5]:443',
    ]);
    expect(h.state.stats()).toMatchObject({ natEntries: 2, flowsCreated: 2 });
  });

  it('keeps two domains that resolve to the same real IP distinct, even from the same client port', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    const same = { A: ['10.0.0.5'] };
    h.assign(CLIENT_A, 'web', 'one.corp.test', mapped(1), { 'one.corp.test': same });
    h.assign(CLIENT_A, 'web', 'two.corp.test', mapped(2), { 'two.corp.test': same });
    const first = only(h.fromClient(CLIENT_A, udp(A4, '100.96.1.1', 5353, 53, 'one')), 'network');
    const second = only(h.fromClient(CLIENT_A, udp(A4, '100.96.2.1', 5353, 53, 'two')), 'network');
    expect(first.srcPort).toBe(5353);
    expect(second.srcPort).not.toBe(5353);
    const replyTo = (port: number) => only(h.fromNetwork(udp('10.0.0.5', A4, 53, port, 'reply')), 'client');
    const r2 = replyTo(second.srcPort);
    const r1 = replyTo(5353);
    expect([addressToString(r1.srcAddress()), r1.dstPort]).toEqual(['100.96.1.1', 5353]);
    expect([addressToString(r2.srcAddress()), r2.dstPort]).toEqual(['100.96.2.1', 5353]);
  });

  it('re-resolves after the rule time without breaking live flows', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    h.assign(CLIENT_A, 'web', 'app.corp.test', mapped(1), { 'app.corp.test': { A: ['10.0.0.5'], ttl: 1 } });
    only(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40000, 443)), 'network');
    h.fromNetwork(tcp('10.0.0.5', A4, 443, 40000, TcpFlag.SYN | TcpFlag.ACK));
    h.advance(5_000); // TTL 1 s, raised to the 5 s minimum rule time

    // A new flow waits for a re-query; the live one goes on to the old address meanwhile.
    expect(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40001, 443))).toEqual([]);
    const live = only(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40000, 443, TcpFlag.ACK)), 'network');
    expect(addressToString(live.dstAddress())).toBe('10.0.0.5');
    h.resolve({ 'app.corp.test': { A: ['10.0.0.6'] } });
    const replayed = only(h.transmits(), 'network');
    expect([addressToString(replayed.dstAddress()), replayed.srcPort]).toEqual(['10.0.0.6', 40001]);

    // A later assigned_ips re-resolves too; a failing re-query keeps the last answer.
    h.control(CLIENT_A, { type: 'assigned_ips', resourceId: 'web', domain: 'app.corp.test', proxyIps: mapped(1) });
    for (let r = h.state.pollResolveRequest(); r; r = h.state.pollResolveRequest()) {
      h.state.handleResolveAnswer(r.id, { ok: false, error: 'SERVFAIL' }, h.now);
    }
    expect(h.controlReplies(CLIENT_A)).toMatchObject([{ status: 'active' }]);
    const again = only(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40002, 443)), 'network');
    expect(addressToString(again.dstAddress())).toBe('10.0.0.6');
  });

  it('rewrites ICMP errors from the network back to the mapped address and the client’s port', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    const same = { A: ['10.0.0.5'] };
    h.assign(CLIENT_A, 'web', 'one.corp.test', mapped(1), { 'one.corp.test': same });
    h.assign(CLIENT_A, 'web', 'two.corp.test', mapped(2), { 'two.corp.test': same });
    only(h.fromClient(CLIENT_A, udp(A4, '100.96.1.1', 7000, 9999)), 'network');
    const sent = only(h.fromClient(CLIENT_A, udp(A4, '100.96.2.1', 7000, 9999)), 'network');
    expect(sent.srcPort).not.toBe(7000);
    const unreachable = buildIcmpError(sent, { src: ip('10.0.0.5'), kind: 'port-unreachable' }) as Uint8Array;
    const back = only(h.fromNetwork(unreachable), 'client');
    expect(addressToString(back.srcAddress())).toBe('100.96.2.1');
    const inner = back.embedded() as Packet;
    expect([addressToString(inner.srcAddress()), addressToString(inner.dstAddress()), inner.srcPort]).toEqual([
      A4,
      '100.96.2.1',
      7000,
    ]);
  });
});

describe('GatewayState: NAT64 and NAT46', () => {
  function nat64(): Harness {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    h.assign(CLIENT_A, 'web', 'v6only.corp.test', mapped(1), { 'v6only.corp.test': { AAAA: ['fd00:99::6'] } });
    h.assign(CLIENT_A, 'web', 'v4only.corp.test', mapped(2), { 'v4only.corp.test': { A: ['10.0.0.4'] } });
    return h;
  }

  it('carries TCP from an IPv4 mapped IP to an IPv6-only name and back', () => {
    const h = nat64();
    const out = only(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40000, 80)), 'network');
    expect([out.version, addressToString(out.srcAddress()), addressToString(out.dstAddress())]).toEqual([
      6,
      A6,
      'fd00:99::6',
    ]);
    expect([out.protocol, out.srcPort, out.dstPort, out.tcpFlags]).toEqual([IpProtocol.Tcp, 40000, 80, TcpFlag.SYN]);
    const back = only(h.fromNetwork(tcp('fd00:99::6', A6, 80, 40000, TcpFlag.SYN | TcpFlag.ACK)), 'client');
    expect([back.version, addressToString(back.srcAddress()), addressToString(back.dstAddress())]).toEqual([
      4,
      '100.96.1.1',
      A4,
    ]);
    expect([back.srcPort, back.dstPort, back.tcpFlags]).toEqual([80, 40000, TcpFlag.SYN | TcpFlag.ACK]);
  });

  it('carries UDP and ICMP echo both ways across families', () => {
    const h = nat64();
    const u = only(h.fromClient(CLIENT_A, udp(A4, '100.96.1.2', 5000, 53, 'q')), 'network');
    expect([u.version, u.protocol, addressToString(u.dstAddress())]).toEqual([6, IpProtocol.Udp, 'fd00:99::6']);
    const ub = only(h.fromNetwork(udp('fd00:99::6', A6, 53, 5000, 'answer')), 'client');
    expect([ub.version, addressToString(ub.srcAddress()), ub.dstPort]).toEqual([4, '100.96.1.2', 5000]);
    expect(new TextDecoder().decode(ub.buffer.subarray(ub.payloadOffset, ub.end))).toBe('answer');

    const e = only(h.fromClient(CLIENT_A, echo(A4, '100.96.1.1', 77)), 'network');
    expect([e.version, e.protocol, e.icmpType, e.icmpId]).toEqual([6, IpProtocol.Icmpv6, 128, 77]);
    const eb = only(h.fromNetwork(echo('fd00:99::6', A6, 77, true)), 'client');
    expect([eb.version, eb.protocol, eb.icmpType, eb.icmpId]).toEqual([4, IpProtocol.Icmp, 0, 77]);
    expect(addressToString(eb.srcAddress())).toBe('100.96.1.1');

    // NAT46: an IPv6 mapped IP for an IPv4-only name.
    const n46 = only(h.fromClient(CLIENT_A, echo(A6, 'fd00:2021:1111:8000::2:1', 78)), 'network');
    expect([n46.version, n46.icmpType, addressToString(n46.srcAddress()), addressToString(n46.dstAddress())]).toEqual([
      4,
      8,
      A4,
      '10.0.0.4',
    ]);
    const n46b = only(h.fromNetwork(echo('10.0.0.4', A4, 78, true)), 'client');
    expect([n46b.version, n46b.icmpType, addressToString(n46b.srcAddress())]).toEqual([
      6,
      129,
      'fd00:2021:1111:8000::2:1',
    ]);
    const t46 = only(h.fromClient(CLIENT_A, tcp(A6, 'fd00:2021:1111:8000::2:2', 40000, 80)), 'network');
    expect([t46.version, addressToString(t46.dstAddress()), t46.dstPort]).toEqual([4, '10.0.0.4', 80]);
  });

  it('translates ICMPv6 errors into ICMPv4 errors about the client’s original packet', () => {
    const h = nat64();
    const out = only(h.fromClient(CLIENT_A, udp(A4, '100.96.1.1', 6000, 9999)), 'network');
    const error = buildIcmpError(out, { src: ip('fd00:99::6'), kind: 'port-unreachable' }) as Uint8Array;
    const back = only(h.fromNetwork(error), 'client');
    expect([back.version, back.icmpType, back.icmpCode, addressToString(back.srcAddress())]).toEqual([
      4,
      3,
      3,
      '100.96.1.1',
    ]);
    const inner = back.embedded() as Packet;
    expect([inner.version, addressToString(inner.srcAddress()), addressToString(inner.dstAddress())]).toEqual([
      4,
      A4,
      '100.96.1.1',
    ]);
    expect([inner.srcPort, inner.dstPort]).toEqual([6000, 9999]);

    const tooBig = buildIcmpError(out, { src: ip('fd00:99::1'), kind: 'packet-too-big', mtu: 1400 }) as Uint8Array;
    const ptb = only(h.fromNetwork(tooBig), 'client');
    expect([ptb.icmpType, ptb.icmpCode, ptb.icmpMtu]).toEqual([3, 4, 1380]);
  });
});

describe('GatewayState: a lost DNS-resource NAT (nat_missing)', () => {
  /** A gateway that restarted: the portal re-sent the authorization, the client's mappings are gone. */
  const restarted = () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    h.authorize(CLIENT_A, NET);
    return h;
  };

  it('tells the client about a packet to an address it has no mapping for, at most once a second per address', () => {
    const h = restarted();
    expect(natMissing(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40000, 443)))).toEqual(['100.96.1.1']);
    h.advance(999);
    expect(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40001, 443))).toEqual([]);
    expect(natMissing(h.fromClient(CLIENT_A, udp(A4, '100.96.1.2', 40000, 53)))).toEqual(['100.96.1.2']);
    expect(natMissing(h.fromClient(CLIENT_A, tcp(A6, 'fd00:2021:1111:8000::1:1', 40000, 443)))).toEqual([
      'fd00:2021:1111:8000::1:1',
    ]);
    h.advance(1);
    expect(natMissing(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40002, 443)))).toEqual(['100.96.1.1']);
    // Every packet is still dropped and counted, and logged as before.
    expect(h.state.stats().drops.not_authorized).toBe(5);
    expect(h.state.stats().natMissingSent).toBe(4);
    expect(h.accessLog()).toContain('100.64.0.2 |> tcp 100.96.1.1:443 not authorized');

    // The client sets the NAT up again: its packets go through, and nothing more is said.
    h.assign(CLIENT_A, 'web', 'app.corp.test', mapped(1), { 'app.corp.test': { A: ['10.0.0.5'] } });
    h.advance(1000);
    expect(
      addressToString(only(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40003, 443)), 'network').dstAddress()),
    ).toBe('10.0.0.5');
  });

  it('says nothing to unknown clients, clients without DNS resources, or about destinations an authorization covers', () => {
    const h = new Harness();
    h.authorize(CLIENT_B, NET);
    expect(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40000, 443))).toEqual([]);
    expect(h.fromClient(CLIENT_B, tcp(CLIENT_B.tunnel.ipv4, '100.96.1.1', 40000, 443))).toEqual([]);
    expect(h.state.stats().drops).toMatchObject({ unknown_client: 1, not_authorized: 1 });

    const r = restarted();
    only(r.fromClient(CLIENT_A, tcp(A4, '10.1.2.3', 40000, 80)), 'network');
    expect(only(r.fromClient(CLIENT_A, tcp(A4, '10.1.2.3', 40000, 22)), 'client').icmpCode).toBe(13);
    r.assign(CLIENT_A, 'web', 'app.corp.test', mapped(1), { 'app.corp.test': { A: ['10.0.0.5'] } });
    only(r.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40000, 443)), 'network');
    expect(r.state.stats().natMissingSent).toBe(0);
  });

  it('remembers at most 256 addresses per client, so a scan cannot grow the gateway’s memory', () => {
    const h = restarted();
    let told = 0;
    for (let i = 0; i < 1000; i++) {
      told += natMissing(h.fromClient(CLIENT_A, udp(A4, `100.97.${i >> 8}.${i & 0xff}`, 40000, 53))).length;
    }
    expect(told).toBe(256);
    h.advance(1000);
    expect(natMissing(h.fromClient(CLIENT_A, udp(A4, '100.98.0.1', 40000, 53)))).toEqual(['100.98.0.1']);
  });
});

describe('GatewayState: CIDR resources and filters', () => {
  it('forwards CIDR traffic unchanged, only within the authorized range and filters', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, NET);
    const out = only(h.fromClient(CLIENT_A, tcp(A4, '10.1.2.3', 40000, 80)), 'network');
    expect([addressToString(out.srcAddress()), addressToString(out.dstAddress()), out.srcPort]).toEqual([
      A4,
      '10.1.2.3',
      40000,
    ]);
    only(h.fromClient(CLIENT_A, echo(A4, '10.1.2.3', 9)), 'network');
    expect(h.fromClient(CLIENT_A, tcp(A4, '10.2.0.1', 40000, 80))).toEqual([]);
    expect(h.state.stats().drops.not_authorized).toBe(1);

    const refused = only(h.fromClient(CLIENT_A, tcp(A4, '10.1.2.3', 40001, 22)), 'client');
    expect([refused.icmpType, refused.icmpCode, addressToString(refused.srcAddress())]).toEqual([3, 13, '10.1.2.3']);
    const udpRefused = only(h.fromClient(CLIENT_A, udp(A4, '10.1.2.3', 40001, 80)), 'client');
    expect(udpRefused.icmpCode).toBe(13);
    expect(h.accessLog()).toContain('100.64.0.2 |> tcp 10.1.2.3:22 prohibited');
  });

  it('answers a filtered DNS-resource port with ICMPv6 administratively prohibited from the mapped IP', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, SSH);
    h.assign(CLIENT_A, 'ssh', 'ssh.corp.test', mapped(1), { 'ssh.corp.test': { A: ['10.0.0.22'] } });
    only(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40000, 22)), 'network');
    const refused = only(h.fromClient(CLIENT_A, tcp(A6, 'fd00:2021:1111:8000::1:1', 40000, 443)), 'client');
    expect([refused.version, refused.icmpType, refused.icmpCode]).toEqual([6, 1, 1]);
    expect(addressToString(refused.srcAddress())).toBe('fd00:2021:1111:8000::1:1');
    expect(h.state.stats().drops.prohibited).toBe(1);
  });

  it('ends flows a resource update no longer allows', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, NET);
    only(h.fromClient(CLIENT_A, tcp(A4, '10.1.2.3', 40000, 80)), 'network');
    h.state.handlePortalMessage(
      { type: 'resource_updated', resource: { ...NET, filters: [{ protocol: 'icmp' }] } },
      h.now,
    );
    expect(h.state.stats().natEntries).toBe(0);
    expect(h.fromNetwork(tcp('10.1.2.3', A4, 80, 40000, TcpFlag.ACK))).toEqual([]);
    expect(only(h.fromClient(CLIENT_A, tcp(A4, '10.1.2.3', 40000, 80)), 'client').icmpCode).toBe(13);
  });
});

describe('GatewayState: isolation', () => {
  it('client B reaches neither client A’s mapped IPs, nor A’s flows, nor A itself', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    h.authorize(CLIENT_B, TUNNEL_NET);
    h.assign(CLIENT_A, 'web', 'app.corp.test', mapped(1), { 'app.corp.test': { A: ['10.0.0.5'] } });
    only(h.fromClient(CLIENT_A, tcp(A4, '100.96.1.1', 40000, 443)), 'network');

    const B4 = CLIENT_B.tunnel.ipv4;
    expect(h.fromClient(CLIENT_B, tcp(B4, '100.96.1.1', 40000, 443))).toEqual([]);
    expect(h.fromClient(CLIENT_B, tcp(B4, A4, 40000, 22))).toEqual([]);
    expect(h.fromClient(CLIENT_B, tcp(A4, '10.0.0.5', 40000, 443))).toEqual([]);
    expect(h.fromNetwork(tcp('10.0.0.5', B4, 443, 40000, TcpFlag.ACK))).toEqual([]);
    expect(h.state.stats().drops).toMatchObject({
      not_authorized: 1,
      forbidden_destination: 1,
      spoofed_source: 1,
      no_flow: 1,
    });
    // A's flow is untouched.
    expect(only(h.fromNetwork(tcp('10.0.0.5', A4, 443, 40000, TcpFlag.ACK)), 'client').dstPort).toBe(40000);
  });

  it('drops unsolicited packets from the network and packets to the gateway itself', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, NET);
    expect(h.fromNetwork(tcp('10.1.2.3', A4, 80, 40000, TcpFlag.SYN))).toEqual([]);
    expect(h.fromNetwork(tcp('10.1.2.3', '100.64.0.99', 80, 40000))).toEqual([]);
    expect(h.fromClient(CLIENT_A, tcp(A4, GATEWAY.ipv4, 40000, 22))).toEqual([]);
    expect(h.state.stats().drops).toMatchObject({ no_flow: 1, no_client: 1, to_gateway: 1 });
  });
});

describe('GatewayState: NAT timeouts', () => {
  it('expires an unanswered UDP flow after 60 s and an answered one after 2 min idle', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, { ...NET, filters: [] }, T0 + 10 * HOUR);
    only(h.fromClient(CLIENT_A, udp(A4, '10.1.2.3', 1000, 80)), 'network');
    h.advance(NAT_TIMEOUTS.unansweredMs);
    expect(h.state.stats().natEntries).toBe(0);
    expect(h.fromNetwork(udp('10.1.2.3', A4, 80, 1000))).toEqual([]);

    only(h.fromClient(CLIENT_A, tcp(A4, '10.1.2.3', 1001, 80)), 'network');
    only(h.fromNetwork(tcp('10.1.2.3', A4, 80, 1001, TcpFlag.SYN | TcpFlag.ACK)), 'client');
    h.advance(2 * 60_000);
    expect(h.state.stats().natEntries).toBe(1);
    h.advance(NAT_TIMEOUTS.tcpMs - 2 * 60_000);
    expect(h.state.stats().natEntries).toBe(0);
    expect(h.state.pollTimeout()).toBe(T0 + 10 * HOUR);
  });

  it('ends a TCP flow on RST at once', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, NET);
    only(h.fromClient(CLIENT_A, tcp(A4, '10.1.2.3', 1001, 80)), 'network');
    only(h.fromNetwork(tcp('10.1.2.3', A4, 80, 1001, TcpFlag.RST)), 'client');
    expect(h.state.stats().natEntries).toBe(0);
  });
});

describe('GatewayState: bad input', () => {
  it('counts and drops garbage packets and control messages without disturbing other clients', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    h.authorize(CLIENT_B, NET);
    let seed = 1;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 2000; i++) {
      const junk = Uint8Array.from({ length: Math.floor(random() * 80) }, () => Math.floor(random() * 256));
      if (junk.length > 0) junk[0] = random() < 0.5 ? 0x45 : 0x60;
      h.state.handleClientPacket(CLIENT_A.id, junk, h.now);
      h.state.handleNetworkPacket(junk, h.now);
    }
    for (const bad of [
      { type: 'assigned_ips' },
      { type: 'nope' },
      'not json',
      { type: 'assigned_ips', resourceId: 'web', domain: 'a.corp.test', proxyIps: ['x'] },
    ]) {
      h.control(CLIENT_A, bad);
    }
    h.state.handleClientPacket(
      CLIENT_A.id,
      buildUdp({
        src: ip(A4),
        dst: ip(GATEWAY.ipv4),
        srcPort: 1,
        dstPort: CONTROL_PORT,
        payload: new Uint8Array([0xff, 0xfe]),
      }),
      h.now,
    );
    const drops = h.state.stats().drops;
    expect(drops.control_malformed).toBe(5);
    expect(drops.malformed + drops.spoofed_source + drops.unsupported + drops.no_client).toBeGreaterThan(1000);
    expect(h.transmits().every((t) => t.to === 'client')).toBe(true);
    expect(only(h.fromClient(CLIENT_B, tcp(CLIENT_B.tunnel.ipv4, '10.1.2.3', 1, 80)), 'network').dstPort).toBe(80);
  });

  it('drops fragments and counts them', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, NET);
    const packet = udp(A4, '10.1.2.3', 1, 80);
    packet[6] = 0x20; // more fragments (the header checksum is the kernel's business, not checked here)
    expect(h.fromClient(CLIENT_A, packet)).toEqual([]);
    expect(h.state.stats().drops.fragment).toBe(1);
  });

  it('bounds what one client may keep waiting for the resolver', () => {
    const h = new Harness();
    h.authorize(CLIENT_A, WEB);
    for (let i = 0; i < 100; i++) {
      h.control(CLIENT_A, {
        type: 'assigned_ips',
        resourceId: 'web',
        domain: `d${i}.corp.test`,
        proxyIps: ['100.96.9.1'],
      });
    }
    expect(h.state.stats().drops.client_limit).toBe(36);
  });
});
