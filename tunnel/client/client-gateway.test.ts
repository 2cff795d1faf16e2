import { describe, expect, it } from 'vitest';
import { buildQuery, DnsType, inspectResponse } from '../dns/index.js';
import { GatewayState } from '../gateway/state.js';
import { buildUdp, IpProtocol, Packet } from '../packet/index.js';
import { Device, generatePresharedKey, generatePrivateKey, publicKeyOf, seededRng } from '../wireguard/index.js';
import { formatIp, ip, ipToBytes, readIpv4 } from '../../protocol/ip.js';
import type { Resource } from '../../protocol/resources.js';
import { ClientState } from './client-state.js';
import { answerEverything, CLIENT_ENDPOINT, CLIENT_TUNNEL, CORP_RESOURCE, T0 } from './testing.js';

/**
 * `ClientState` against the real `GatewayState` (tunnel/gateway) behind real WireGuard on both sides: the two
 * halves of `protocol/tunnel-control.ts` (`assigned_ips` → resolution → `domain_status`) and the NAT agree. The
 * gateway's resolver and the service behind it are scripted: `app.corp.test` resolves to 192.0.2.80, which echoes
 * UDP; `gone.corp.test` has no records.
 */

const GATEWAY_TUNNEL = { ipv4: '100.64.0.1', ipv6: 'fd00:2021:1111::1' };
const GATEWAY_ENDPOINT = { host: '203.0.113.1', port: 51820 };
const SERVICE = '192.0.2.80';

class World {
  now = T0;
  readonly client = new ClientState({ privateKey: generatePrivateKey(seededRng('c/key')), rng: seededRng('c/rng') });
  readonly gatewayKey = generatePrivateKey(seededRng('g/key'));
  device = new Device({ privateKey: this.gatewayKey, rng: seededRng('g/rng') });
  gateway = this.#newGateway();
  readonly tun: Uint8Array[] = [];
  readonly served: Packet[] = [];
  #clientId: string | undefined;
  readonly #psk = seededRng('psk');
  /** The portal's live authorization and the gateway's current connection with it. */
  #live: { presharedKey: string; expiresAt: number } | undefined;
  #connection = 0;

  constructor(resources: Resource[]) {
    this.client.setHostResolvers(['192.0.2.53']);
    this.client.handlePortalMessage(
      {
        type: 'init',
        device: { id: 'device-1', tunnel: CLIENT_TUNNEL },
        account: { id: 'a', email: 'user@corp.test' },
        resources,
        upstreamResolvers: [],
        blockRules: [],
      },
      this.now,
    );
  }

  /** Moves everything between the parties until nothing moves (no latency: this is about agreement, not time). */
  settle(): void {
    for (let moved = true; moved;) {
      moved = false;
      for (let m = this.client.pollPortalMessage(); m; m = this.client.pollPortalMessage()) {
        moved = true;
        if (m.type === 'request_authorization') this.#authorize(m.resourceId);
      }
      for (let e = this.gateway.pollEvent(); e; e = this.gateway.pollEvent()) {
        moved = true;
        if (e.type === 'peer_upserted') {
          this.#clientId = e.client.id;
          this.device.upsertPeer({
            publicKey: e.client.publicKey,
            presharedKey: e.client.presharedKey,
            allowedIps: [`${CLIENT_TUNNEL.ipv4}/32`, `${CLIENT_TUNNEL.ipv6}/128`],
          });
        }
      }
      for (let t = this.client.pollTransmit(); t; t = this.client.pollTransmit()) {
        moved = true;
        const result = this.device.handleDatagram(t.data, CLIENT_ENDPOINT, this.now);
        if (result.kind === 'packet') this.gateway.handleClientPacket(this.#clientId!, result.packet, this.now);
      }
      for (let r = this.gateway.pollResolveRequest(); r; r = this.gateway.pollResolveRequest()) {
        moved = true;
        const records = r.domain === 'app.corp.test' && r.type === 'A' ? [{ address: SERVICE, ttl: 300 }] : [];
        this.gateway.handleResolveAnswer(r.id, { ok: true, records }, this.now);
      }
      for (let t = this.gateway.pollTransmit(); t; t = this.gateway.pollTransmit()) {
        moved = true;
        if (t.to === 'network') this.#serve(t.packet);
        else {
          const peer = this.device.peerByPublicKey(this.client.publicKey)!;
          const result = this.device.encapsulateTo(peer, t.packet, this.now);
          if (result.kind === 'datagram') this.client.handleNetworkDatagram(result.data, GATEWAY_ENDPOINT, this.now);
        }
      }
      for (let t = this.device.pollTransmit(); t; t = this.device.pollTransmit()) {
        moved = true;
        this.client.handleNetworkDatagram(t.data, GATEWAY_ENDPOINT, this.now);
      }
      for (let q = this.client.pollUpstreamQuery(); q; q = this.client.pollUpstreamQuery()) {
        moved = true;
        this.client.handleUpstreamResponse(q.ref, answerEverything(q), this.now);
      }
      for (let p = this.client.pollTunPacket(); p; p = this.client.pollTunPacket()) this.tun.push(p);
      while (this.client.pollEvent());
    }
  }

  resolve(name: string): string {
    const query = buildUdp({
      src: ipToBytes(ip(CLIENT_TUNNEL.ipv4)),
      dst: ipToBytes(ip('100.100.111.1')),
      srcPort: 40000,
      dstPort: 53,
      payload: dnsQuery(name),
    });
    this.client.handleTunPacket(query, this.now);
    const answer = new Packet();
    answer.parse(this.client.pollTunPacket()!);
    const info = inspectResponse(
      answer.buffer.subarray(answer.payloadOffset, answer.payloadOffset + answer.payloadLength),
    );
    if (!info.ok) throw new Error(info.error.message);
    return formatIp(info.value.addresses[0]!.address);
  }

  send(destination: string, payload: number[]): void {
    this.client.handleTunPacket(
      buildUdp({
        src: ipToBytes(ip(CLIENT_TUNNEL.ipv4)),
        dst: ipToBytes(ip(destination)),
        srcPort: 41000,
        dstPort: 7,
        payload: Uint8Array.from(payload),
      }),
      this.now,
    );
    this.settle();
  }

  /**
   * The gateway process restarts (new state, new WireGuard device unless `keepSessions`: a gateway that merely lost
   * its NAT), reconnects to the portal, and the portal re-installs the live authorization there. The portal tells the
   * client (with the gateway's new connection id) unless `portalTellsClient` is false.
   */
  restartGateway(options: { keepSessions?: boolean; portalTellsClient?: boolean } = {}): void {
    if (options.keepSessions !== true) this.device = new Device({ privateKey: this.gatewayKey, rng: seededRng('g/2') });
    this.gateway = this.#newGateway();
    this.#connection++;
    this.#install();
    if (options.portalTellsClient !== false) this.#tellClient();
    this.settle();
  }

  #newGateway(): GatewayState {
    const gateway = new GatewayState();
    gateway.handlePortalMessage({ type: 'init', gateway: { id: 'gw-1', siteId: 'site-a', tunnel: GATEWAY_TUNNEL } }, 0);
    return gateway;
  }

  #authorize(resourceId: string): void {
    if (CORP_RESOURCE.id !== resourceId) return;
    this.#live = { presharedKey: generatePresharedKey(this.#psk), expiresAt: this.now + 3_600_000 };
    this.#install();
    this.#tellClient();
  }

  #install(): void {
    if (this.#live === undefined) return;
    this.gateway.handlePortalMessage(
      {
        type: 'authorize_client',
        ref: 'ref-1',
        client: { id: 'device-1', publicKey: this.client.publicKey, tunnel: CLIENT_TUNNEL },
        resource: CORP_RESOURCE,
        ...this.#live,
      },
      this.now,
    );
  }

  #tellClient(): void {
    if (this.#live === undefined) return;
    this.client.handlePortalMessage(
      {
        type: 'authorization_created',
        resourceId: CORP_RESOURCE.id,
        gateway: {
          id: 'gw-1',
          siteId: 'site-a',
          publicKey: publicKeyOf(this.gatewayKey),
          endpoint: GATEWAY_ENDPOINT,
          tunnel: GATEWAY_TUNNEL,
          connectionId: `connection-${this.#connection}`,
        },
        ...this.#live,
      },
      this.now,
    );
  }

  /** The service at 192.0.2.80 echoes UDP back to whoever sent it. */
  #serve(packet: Uint8Array): void {
    const p = new Packet();
    if (p.parse(packet) !== undefined || p.protocol !== IpProtocol.Udp) return;
    this.served.push(p);
    if (formatIp(readIpv4(p.buffer, p.dstOffset)) !== SERVICE) return;
    const reply = buildUdp({
      src: p.dstAddress(),
      dst: p.srcAddress(),
      srcPort: p.dstPort,
      dstPort: p.srcPort,
      payload: p.buffer.slice(p.payloadOffset, p.payloadOffset + p.payloadLength),
    });
    this.gateway.handleNetworkPacket(reply, this.now);
  }
}

function dnsQuery(name: string): Uint8Array {
  const query = buildQuery(0x1234, name, DnsType.A);
  if (!query.ok) throw new Error(query.error.message);
  return query.value;
}

describe('ClientState with the real GatewayState', () => {
  it('sets up the DNS-resource NAT and carries traffic both ways', () => {
    const world = new World([CORP_RESOURCE]);
    const mapped = world.resolve('app.corp.test');
    expect(mapped).toBe('100.96.0.4');
    world.send(mapped, [1, 2, 3]);
    expect(world.client.mapping('app.corp.test')).toMatchObject({ gatewayId: 'gw-1', natState: 'confirmed' });
    // The gateway translated the mapped IP to the real one; the service's echo came back from the mapped IP.
    expect(world.served.map((p) => formatIp(readIpv4(p.buffer, p.dstOffset)))).toEqual([SERVICE]);
    const echo = new Packet();
    echo.parse(world.tun.at(-1)!);
    expect(formatIp(readIpv4(echo.buffer, echo.srcOffset))).toBe(mapped);
    expect([...echo.buffer.subarray(echo.payloadOffset, echo.payloadOffset + echo.payloadLength)]).toEqual([1, 2, 3]);
    expect(world.gateway.stats().controlMessages).toBeGreaterThanOrEqual(1);
  });

  it('fails a domain without records: the gateway says inactive, the client answers ICMP unreachable', () => {
    const world = new World([CORP_RESOURCE]);
    const mapped = world.resolve('gone.corp.test');
    world.send(mapped, [1]);
    expect(world.client.mapping('gone.corp.test')?.natState).toBe('failed');
    const error = new Packet();
    error.parse(world.tun.at(-1)!);
    expect([error.protocol, error.icmpType, error.icmpCode]).toEqual([IpProtocol.Icmp, 3, 1]);
    expect(world.served).toEqual([]);
  });

  it('recovers from a gateway restart the portal reports: the very next packet gets through', () => {
    const world = new World([CORP_RESOURCE]);
    const mapped = world.resolve('app.corp.test');
    world.send(mapped, [1]);
    world.restartGateway();
    expect(world.client.mapping('app.corp.test')?.natState).toBe('confirmed');
    world.send(mapped, [2]);
    expect(world.served.map((p) => p.buffer[p.payloadOffset])).toEqual([1, 2]);
  });

  it('recovers from a gateway that lost the NAT without the portal knowing: nat_missing, then assigned_ips', () => {
    const world = new World([CORP_RESOURCE]);
    const mapped = world.resolve('app.corp.test');
    world.send(mapped, [1]);
    world.now += 2000;
    world.restartGateway({ keepSessions: true, portalTellsClient: false });
    world.send(mapped, [2]);
    expect(world.gateway.stats().natMissingSent).toBe(1);
    expect(world.client.mapping('app.corp.test')?.natState).toBe('confirmed');
    world.send(mapped, [3]);
    expect(world.served.map((p) => p.buffer[p.payloadOffset])).toEqual([1, 3]);
  });
});
