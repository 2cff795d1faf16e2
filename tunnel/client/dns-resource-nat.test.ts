import { describe, expect, it } from 'vitest';
import type { DomainStatus } from '../../protocol/tunnel-control.js';
import { DnsResourceNat, type NatKey, type NatSend } from './dns-resource-nat.js';
import { PacketBudget } from './packet-buffer.js';

const KEY: NatKey = { gatewayId: 'gw-1', domain: 'app.corp.test', resourceId: 'res-1' };
const IPS = ['100.96.0.4', '100.96.0.5', '100.96.0.6', '100.96.0.7'];

function nat(): DnsResourceNat {
  return new DnsResourceNat({
    retryIntervalMs: 2000,
    bufferCapacity: 32,
    budget: new PacketBudget(1 << 20),
    dedupeKey: () => undefined,
  });
}

function sends(n: DnsResourceNat): NatSend[] {
  const out: NatSend[] = [];
  for (let s = n.pollSend(); s; s = n.pollSend()) out.push(s);
  return out;
}

function states(n: DnsResourceNat): string[] {
  const out: string[] = [];
  for (let e = n.pollEvent(); e; e = n.pollEvent()) out.push(e.state);
  return out;
}

function status(key: NatKey, value: 'active' | 'inactive'): DomainStatus {
  return { type: 'domain_status', resourceId: key.resourceId, domain: key.domain, status: value };
}

const pkt = (id: number) => new Uint8Array([0x45, id]);

describe('DnsResourceNat', () => {
  it('creates Pending, sends assigned_ips at once and buffers packets until Active releases them', () => {
    const n = nat();
    expect(n.handlePacket(KEY, IPS, pkt(1), 0)).toBe('buffered');
    expect(sends(n)).toEqual([
      {
        gatewayId: 'gw-1',
        message: { type: 'assigned_ips', resourceId: 'res-1', domain: 'app.corp.test', proxyIps: IPS },
      },
    ]);
    expect(n.handlePacket(KEY, IPS, pkt(2), 10)).toBe('buffered');
    expect(n.stateOf(KEY)).toBe('pending');
    const { released, refused } = n.handleDomainStatus('gw-1', status(KEY, 'active'));
    expect(released.map((p) => p[1])).toEqual([1, 2]);
    expect(refused).toEqual([]);
    expect(n.stateOf(KEY)).toBe('confirmed');
    expect(states(n)).toEqual(['pending', 'confirmed']);
    expect(n.handlePacket(KEY, IPS, pkt(3), 20)).toBe('forward');
  });

  it('re-sends a Pending entry only when triggered and only 2 s after the last send', () => {
    const n = nat();
    n.ensure(KEY, IPS, 0);
    expect(sends(n)).toHaveLength(1);
    // Triggers before 2 s send nothing.
    n.handlePacket(KEY, IPS, pkt(1), 1999);
    n.handleAnyQuery(1999);
    n.handleQueryForDomain(KEY, IPS, 1999);
    expect(sends(n)).toHaveLength(0);
    // Time alone sends nothing either: there is no timer.
    expect(sends(n)).toHaveLength(0);
    // The first trigger at ≥ 2 s sends once; the next trigger right after does not.
    n.handleAnyQuery(2000);
    n.handleAnyQuery(2001);
    expect(sends(n)).toHaveLength(1);
    n.handlePacket(KEY, IPS, pkt(2), 4000);
    expect(sends(n)).toHaveLength(1);
    n.handleQueryForDomain(KEY, IPS, 6500);
    expect(sends(n)).toHaveLength(1);
    expect(n.stateOf(KEY)).toBe('pending');
  });

  it('Inactive fails the entry and refuses its buffered packets and later packets', () => {
    const n = nat();
    n.handlePacket(KEY, IPS, pkt(1), 0);
    const { released, refused } = n.handleDomainStatus('gw-1', status(KEY, 'inactive'));
    expect(released).toEqual([]);
    expect(refused.map((p) => p[1])).toEqual([1]);
    expect(n.stateOf(KEY)).toBe('failed');
    expect(n.handlePacket(KEY, IPS, pkt(2), 5000)).toBe('refused');
    expect(sends(n)).toHaveLength(1);
  });

  it('never retries a Failed entry on unrelated queries (100 of them) nor on packets', () => {
    const n = nat();
    n.ensure(KEY, IPS, 0);
    n.handleDomainStatus('gw-1', status(KEY, 'inactive'));
    sends(n);
    const other: NatKey = { ...KEY, domain: 'other.corp.test' };
    for (let i = 0; i < 100; i++) {
      const now = 3000 + i * 2500;
      n.handleAnyQuery(now);
      n.handleQueryForDomain(other, IPS, now);
      n.handlePacket(KEY, IPS, pkt(i), now);
    }
    expect(sends(n).filter((s) => s.message.domain === KEY.domain)).toEqual([]);
    expect(n.stateOf(KEY)).toBe('failed');
  });

  it('a query for the domain itself recreates a Failed entry as Pending (after 2 s)', () => {
    const n = nat();
    n.ensure(KEY, IPS, 0);
    n.handleDomainStatus('gw-1', status(KEY, 'inactive'));
    sends(n);
    states(n);
    // Within 2 s of the last send the gateway's "no records" is fresh: nothing changes.
    n.handleQueryForDomain(KEY, IPS, 1500);
    expect(n.stateOf(KEY)).toBe('failed');
    expect(sends(n)).toHaveLength(0);
    n.handleQueryForDomain(KEY, IPS, 2000);
    expect(n.stateOf(KEY)).toBe('pending');
    expect(sends(n)).toHaveLength(1);
    expect(n.handlePacket(KEY, IPS, pkt(1), 2100)).toBe('buffered');
    expect(n.handleDomainStatus('gw-1', status(KEY, 'active')).released).toHaveLength(1);
    expect(states(n)).toEqual(['pending', 'confirmed']);
  });

  it('a query for a Confirmed domain recreates it: Recreating lets packets through, then Confirmed again', () => {
    const n = nat();
    n.ensure(KEY, IPS, 0);
    n.handleDomainStatus('gw-1', status(KEY, 'active'));
    sends(n);
    states(n);
    n.handleQueryForDomain(KEY, IPS, 1000);
    expect(n.stateOf(KEY)).toBe('confirmed');
    n.handleQueryForDomain(KEY, IPS, 2000);
    expect(n.stateOf(KEY)).toBe('recreating');
    expect(sends(n)).toHaveLength(1);
    expect(n.handlePacket(KEY, IPS, pkt(1), 2100)).toBe('forward');
    // Lost answer: retried by the next trigger after 2 s.
    n.handleAnyQuery(3000);
    expect(sends(n)).toHaveLength(0);
    n.handlePacket(KEY, IPS, pkt(2), 4000);
    expect(sends(n)).toHaveLength(1);
    n.handleDomainStatus('gw-1', status(KEY, 'active'));
    expect(states(n)).toEqual(['recreating', 'confirmed']);
  });

  it('Recreating → Failed when the gateway no longer resolves the domain', () => {
    const n = nat();
    n.ensure(KEY, IPS, 0);
    n.handleDomainStatus('gw-1', status(KEY, 'active'));
    n.handleQueryForDomain(KEY, IPS, 5000);
    n.handleDomainStatus('gw-1', status(KEY, 'inactive'));
    expect(n.stateOf(KEY)).toBe('failed');
    expect(n.handlePacket(KEY, IPS, pkt(1), 5100)).toBe('refused');
  });

  it('keeps one entry per (gateway, domain, resource) and ignores answers for unknown ones', () => {
    const n = nat();
    const otherGateway: NatKey = { ...KEY, gatewayId: 'gw-2' };
    const otherResource: NatKey = { ...KEY, resourceId: 'res-2' };
    n.ensure(KEY, IPS, 0);
    n.ensure(otherGateway, IPS, 0);
    expect(n.size).toBe(2);
    expect(n.handleDomainStatus('gw-1', status(otherResource, 'active')).known).toBe(false);
    expect(n.handleDomainStatus('gw-3', status(KEY, 'active')).known).toBe(false);
    n.handleDomainStatus('gw-2', status(otherGateway, 'active'));
    expect(n.stateOf(KEY)).toBe('pending');
    expect(n.stateOf(otherGateway)).toBe('confirmed');
  });

  it('an unrelated query retries every waiting entry, but only waiting ones', () => {
    const n = nat();
    const keys = Array.from({ length: 5 }, (_, i): NatKey => ({ ...KEY, domain: `d${i}.corp.test` }));
    for (const key of keys) n.ensure(key, IPS, 0);
    n.handleDomainStatus('gw-1', status(keys[0]!, 'active'));
    n.handleDomainStatus('gw-1', status(keys[1]!, 'inactive'));
    sends(n);
    n.handleAnyQuery(2000);
    expect(
      sends(n)
        .map((s) => s.message.domain)
        .sort(),
    ).toEqual(['d2.corp.test', 'd3.corp.test', 'd4.corp.test']);
  });

  it('forgets a gateway, resource or domain and drops what they buffered', () => {
    const n = nat();
    n.handlePacket(KEY, IPS, pkt(1), 0);
    n.ensure({ ...KEY, gatewayId: 'gw-2' }, IPS, 0);
    n.ensure({ gatewayId: 'gw-3', domain: 'x.corp.test', resourceId: 'res-9' }, IPS, 0);
    states(n);
    n.removeGateway('gw-1');
    expect(n.stateOf(KEY)).toBeUndefined();
    expect(n.droppedPackets).toBe(1);
    n.removeDomain(KEY.domain, 'res-1');
    expect(n.size).toBe(2);
    n.removeDomain(KEY.domain);
    expect(n.size).toBe(1);
    n.removeResource('res-9');
    expect(n.size).toBe(0);
    expect(states(n)).toEqual(['removed', 'removed', 'removed']);
  });

  it('bounds what a Pending entry buffers', () => {
    const n = nat();
    for (let i = 0; i < 100; i++) n.handlePacket(KEY, IPS, pkt(i), i);
    const { released } = n.handleDomainStatus('gw-1', status(KEY, 'active'));
    expect(released).toHaveLength(32);
    expect(released[0]![1]).toBe(68);
    expect(n.droppedPackets).toBe(68);
  });

  it('nat_missing recreates a Confirmed entry, re-sends waiting ones, at most every 2 s, and leaves Failed ones', () => {
    const n = nat();
    n.ensure(KEY, IPS, 0);
    n.handleDomainStatus('gw-1', status(KEY, 'active'));
    sends(n);
    states(n);
    // A report less than 2 s after the last send: an answer may be on its way.
    expect(n.handleNatMissing(KEY, 1999)).toBe(true);
    expect(sends(n)).toEqual([]);
    expect(n.handleNatMissing(KEY, 2000)).toBe(true);
    expect(sends(n)).toHaveLength(1);
    expect(n.stateOf(KEY)).toBe('recreating');
    // Packets keep flowing meanwhile; the gateway reports every second, the client re-sends every 2 s.
    expect(n.handlePacket(KEY, IPS, pkt(1), 2500)).toBe('forward');
    for (let t = 3000; t <= 8000; t += 1000) n.handleNatMissing(KEY, t);
    expect(sends(n)).toHaveLength(3);
    n.handleDomainStatus('gw-1', status(KEY, 'active'));
    expect(states(n)).toEqual(['recreating', 'confirmed']);

    const failed = { ...KEY, domain: 'gone.corp.test' };
    n.ensure(failed, IPS, 0);
    n.handleDomainStatus('gw-1', status(failed, 'inactive'));
    sends(n);
    expect(n.handleNatMissing(failed, 10_000)).toBe(true);
    expect(sends(n)).toEqual([]);
    expect(n.stateOf(failed)).toBe('failed');
    expect(n.handleNatMissing({ ...KEY, domain: 'other.corp.test' }, 10_000)).toBe(false);
  });

  it('a gateway reset re-sends every entry of that gateway at once: Confirmed → Recreating, Pending keeps its packets', () => {
    const n = nat();
    const pending = { ...KEY, domain: 'slow.corp.test' };
    const failed = { ...KEY, domain: 'gone.corp.test' };
    const elsewhere = { ...KEY, gatewayId: 'gw-2' };
    for (const key of [KEY, pending, failed, elsewhere]) n.ensure(key, IPS, 0);
    n.handleDomainStatus('gw-1', status(KEY, 'active'));
    n.handleDomainStatus('gw-1', status(failed, 'inactive'));
    n.handleDomainStatus('gw-2', status(elsewhere, 'active'));
    expect(n.handlePacket(pending, IPS, pkt(7), 100)).toBe('buffered');
    sends(n);
    states(n);

    // 500 ms after the last send: the 2 s rule does not hold a reset back.
    n.resetGateway('gw-1', 500);
    expect(sends(n).map((s) => `${s.gatewayId} ${s.message.domain}`)).toEqual([
      'gw-1 app.corp.test',
      'gw-1 slow.corp.test',
    ]);
    expect([KEY, pending, failed, elsewhere].map((k) => n.stateOf(k))).toEqual([
      'recreating',
      'pending',
      'failed',
      'confirmed',
    ]);
    expect(states(n)).toEqual(['recreating']);
    expect(n.handlePacket(KEY, IPS, pkt(8), 600)).toBe('forward');
    // The retry rule counts from the reset's send.
    n.handleAnyQuery(2400);
    expect(sends(n)).toEqual([]);
    expect(n.handleDomainStatus('gw-1', status(pending, 'active')).released.map((p) => p[1])).toEqual([7]);
  });
});
