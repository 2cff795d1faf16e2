import type { AssignedIps, DomainStatus } from '../../protocol/tunnel-control.js';
import { PacketBuffer, type DedupeKey, type PacketBudget } from './packet-buffer.js';

/**
 * The DNS-resource NAT state machine (seed 003, DESIGN.md "DNS resource NAT").
 *
 * Before packets to a domain's mapped IPs can reach the real service, the gateway must resolve the domain and set up
 * its NAT. The client asks with `assigned_ips` and the gateway answers `domain_status` — both as UDP inside the
 * tunnel, so either may be lost. One entry per (gateway, domain, resource):
 *
 * ```
 *            create ──► Pending ──active──► Confirmed ──query or nat_missing (≥ 2 s since ──► Recreating
 *                        │   ▲                 ▲          last send), gateway reset            │    │
 *                inactive│   │query            └──────────────────active───────────────────────┘    │inactive
 *                        ▼   │(≥ 2 s)                                                               ▼
 *                        Failed ◄───────────────────────────── inactive ────────────────────────── (any)
 * ```
 *
 * - Pending buffers the domain's packets (the NAT does not exist yet) and releases them on `active`.
 * - Recreating refreshes a NAT that exists (the gateway re-resolves); packets keep flowing meanwhile.
 * - Failed (no records, resolution error, not authorised): packets are refused (the caller answers ICMP
 *   unreachable). Unrelated queries never retry it; only a query for the domain itself recreates it.
 * - The "2 s rule": nothing is sent for an entry less than `retryIntervalMs` after its previous send, and a retry is
 *   only sent when something triggers it — a packet for the domain, a query for the domain, the gateway's
 *   `nat_missing` for one of its mapped IPs, or any DNS query for Pending/Recreating entries. `assigned_ips` is
 *   idempotent on the gateway, so a duplicate is harmless.
 * - The gateway lost its state (it restarted: the portal says so with a new connection id): its Confirmed entries
 *   become Recreating and every entry it had is sent again at once, whatever the 2 s rule says — the earlier
 *   answers were the old gateway process's, so they are not "fresh". Failed entries stay Failed.
 */

export type NatState = 'pending' | 'confirmed' | 'recreating' | 'failed';

export interface NatKey {
  gatewayId: string;
  domain: string;
  resourceId: string;
}

export type NatEvent = { type: 'nat_state_changed'; key: NatKey; state: NatState | 'removed' };

export interface NatSend {
  gatewayId: string;
  message: AssignedIps;
}

export type PacketVerdict = 'forward' | 'buffered' | 'refused';

export interface NatOptions {
  retryIntervalMs: number;
  /** Packets buffered per Pending entry (oldest dropped). */
  bufferCapacity: number;
  budget: PacketBudget;
  dedupeKey: DedupeKey;
}

interface Entry extends NatKey {
  state: NatState;
  lastSentAt: number;
  proxyIps: string[];
  buffer: PacketBuffer | undefined;
}

export class DnsResourceNat {
  readonly #entries = new Map<string, Entry>();
  /** Entries waiting for an answer (Pending or Recreating): what "any DNS query" retries, without scanning all. */
  readonly #awaiting = new Set<Entry>();
  readonly #byDomain = new Map<string, Set<Entry>>();
  readonly #sends: NatSend[] = [];
  readonly #events: NatEvent[] = [];
  #droppedPackets = 0;

  constructor(readonly options: NatOptions) {}

  get size(): number {
    return this.#entries.size;
  }

  get droppedPackets(): number {
    return this.#droppedPackets;
  }

  /**
   * The tunnel to `key.gatewayId` is up and `key.domain` is mapped to `key.resourceId`: make sure the gateway gets
   * the mapping. Creates a Pending entry (sending at once) or retries a waiting one under the 2 s rule; Confirmed and
   * Failed entries stay as they are. `packets` (first packets for the domain) are buffered if the NAT is Pending.
   */
  ensure(key: NatKey, proxyIps: readonly string[], now: number, packets: readonly Uint8Array[] = []): void {
    const entry = this.#entries.get(keyOf(key)) ?? this.#create(key, proxyIps, now);
    entry.proxyIps = [...proxyIps];
    this.#retryIfDue(entry, now);
    for (const packet of packets) this.#routePacket(entry, packet);
  }

  /**
   * A packet for one of the domain's mapped IPs (the tunnel is up). Creates the entry if needed and retries a
   * waiting one under the 2 s rule. `forward`: send it through the tunnel; `buffered`: kept until the NAT is
   * confirmed; `refused`: the NAT failed, answer ICMP unreachable.
   */
  handlePacket(key: NatKey, proxyIps: readonly string[], packet: Uint8Array, now: number): PacketVerdict {
    let entry = this.#entries.get(keyOf(key));
    if (entry === undefined) entry = this.#create(key, proxyIps, now);
    else this.#retryIfDue(entry, now);
    return this.#routePacket(entry, packet);
  }

  /**
   * An application asked for this domain (A/AAAA answered with its mapped IPs): refresh the gateway's resolution.
   * Confirmed → Recreating and Failed → Pending, both sending — unless the last send is less than 2 s old, in which
   * case the gateway's answer is fresh and nothing changes. Creates the entry when the tunnel is up but no entry
   * exists yet. Other waiting entries are retried as for any query.
   */
  handleQueryForDomain(key: NatKey, proxyIps: readonly string[], now: number): void {
    const existing = this.#entries.get(keyOf(key));
    if (existing === undefined) {
      this.#create(key, proxyIps, now);
    } else {
      existing.proxyIps = [...proxyIps];
      if (now - existing.lastSentAt >= this.options.retryIntervalMs) {
        if (existing.state === 'confirmed') this.#transition(existing, 'recreating');
        else if (existing.state === 'failed') this.#transition(existing, 'pending');
        this.#retryIfDue(existing, now);
      }
    }
    this.handleAnyQuery(now);
  }

  /** Any DNS query reached the stub resolver: retry every waiting entry whose last send is at least 2 s old. */
  handleAnyQuery(now: number): void {
    for (const entry of this.#awaiting) this.#retryIfDue(entry, now);
  }

  /**
   * The gateway has no NAT for one of the entry's mapped IPs (`nat_missing`): it lost it. Confirmed → Recreating and
   * send; Pending and Recreating are re-sent; both at most once per 2 s (the gateway reports every second while
   * packets keep coming, and an answer may be on its way). Failed entries stay: the client refuses their packets, and
   * a late one is no reason to retry a domain without records. False for an unknown entry.
   */
  handleNatMissing(key: NatKey, now: number): boolean {
    const entry = this.#entries.get(keyOf(key));
    if (entry === undefined) return false;
    if (entry.state === 'failed' || now - entry.lastSentAt < this.options.retryIntervalMs) return true;
    if (entry.state === 'confirmed') this.#transition(entry, 'recreating');
    this.#send(entry, now);
    return true;
  }

  /**
   * The gateway lost its state (it restarted): every entry it had is sent again now — a reset is an explicit trigger,
   * and the gateway's earlier answers are void, so the time since the last send does not hold it back. Confirmed →
   * Recreating (packets keep flowing; the gateway holds those arriving after `assigned_ips` while it resolves); Pending stays Pending with its
   * buffered packets; Failed stays Failed: the gateway kept nothing for those, and only a query recreates them.
   */
  resetGateway(gatewayId: string, now: number): void {
    for (const entry of this.#entries.values()) {
      if (entry.gatewayId !== gatewayId || entry.state === 'failed') continue;
      if (entry.state === 'confirmed') this.#transition(entry, 'recreating');
      this.#send(entry, now);
    }
  }

  /**
   * The gateway answered. `active` confirms the entry and returns the packets it buffered (send them now);
   * `inactive` fails it and returns its buffered packets as `refused` (answer them ICMP unreachable). Answers for
   * unknown entries (stale, or for a resource the domain no longer maps to) are ignored.
   */
  handleDomainStatus(
    gatewayId: string,
    status: DomainStatus,
  ): { released: Uint8Array[]; refused: Uint8Array[]; known: boolean } {
    const entry = this.#entries.get(keyOf({ gatewayId, domain: status.domain, resourceId: status.resourceId }));
    if (entry === undefined) return { released: [], refused: [], known: false };
    const buffered = entry.buffer?.drain() ?? [];
    entry.buffer = undefined;
    if (status.status === 'active') {
      this.#transition(entry, 'confirmed');
      return { released: buffered, refused: [], known: true };
    }
    this.#transition(entry, 'failed');
    return { released: [], refused: buffered, known: true };
  }

  stateOf(key: NatKey): NatState | undefined {
    return this.#entries.get(keyOf(key))?.state;
  }

  /** The tunnel to a gateway died or the gateway is gone: its NAT state is gone with it. */
  removeGateway(gatewayId: string): void {
    this.#removeWhere((entry) => entry.gatewayId === gatewayId);
  }

  removeResource(resourceId: string): void {
    this.#removeWhere((entry) => entry.resourceId === resourceId);
  }

  /** Drops the domain's entries except those for `keepResourceId` (the domain now maps to another resource). */
  removeDomain(domain: string, keepResourceId?: string): void {
    const entries = this.#byDomain.get(domain);
    if (entries === undefined) return;
    for (const entry of [...entries]) if (entry.resourceId !== keepResourceId) this.#remove(entry);
  }

  clear(): void {
    this.#removeWhere(() => true);
  }

  pollSend(): NatSend | undefined {
    return this.#sends.shift();
  }

  pollEvent(): NatEvent | undefined {
    return this.#events.shift();
  }

  #create(key: NatKey, proxyIps: readonly string[], now: number): Entry {
    const entry: Entry = {
      gatewayId: key.gatewayId,
      domain: key.domain,
      resourceId: key.resourceId,
      state: 'pending',
      lastSentAt: now,
      proxyIps: [...proxyIps],
      buffer: this.#newBuffer(),
    };
    this.#entries.set(keyOf(entry), entry);
    let forDomain = this.#byDomain.get(entry.domain);
    if (forDomain === undefined) this.#byDomain.set(entry.domain, (forDomain = new Set()));
    forDomain.add(entry);
    this.#awaiting.add(entry);
    this.#emit(entry, 'pending');
    this.#send(entry, now);
    return entry;
  }

  #retryIfDue(entry: Entry, now: number): void {
    if (entry.state !== 'pending' && entry.state !== 'recreating') return;
    if (now - entry.lastSentAt < this.options.retryIntervalMs) return;
    this.#send(entry, now);
  }

  #routePacket(entry: Entry, packet: Uint8Array): PacketVerdict {
    switch (entry.state) {
      case 'confirmed':
      case 'recreating':
        return 'forward';
      case 'failed':
        return 'refused';
      case 'pending': {
        entry.buffer ??= this.#newBuffer();
        const result = entry.buffer.push(packet);
        if (result === 'buffered_dropped_oldest' || result === 'over_budget') this.#droppedPackets++;
        return 'buffered';
      }
    }
  }

  #send(entry: Entry, now: number): void {
    entry.lastSentAt = now;
    this.#sends.push({
      gatewayId: entry.gatewayId,
      message: { type: 'assigned_ips', resourceId: entry.resourceId, domain: entry.domain, proxyIps: entry.proxyIps },
    });
  }

  #transition(entry: Entry, state: NatState): void {
    if (entry.state === state) return;
    entry.state = state;
    if (state === 'pending' || state === 'recreating') this.#awaiting.add(entry);
    else this.#awaiting.delete(entry);
    if (state === 'pending') entry.buffer ??= this.#newBuffer();
    this.#emit(entry, state);
  }

  #removeWhere(predicate: (entry: Entry) => boolean): void {
    for (const entry of [...this.#entries.values()]) if (predicate(entry)) this.#remove(entry);
  }

  #remove(entry: Entry): void {
    this.#entries.delete(keyOf(entry));
    this.#awaiting.delete(entry);
    const forDomain = this.#byDomain.get(entry.domain);
    forDomain?.delete(entry);
    if (forDomain?.size === 0) this.#byDomain.delete(entry.domain);
    this.#droppedPackets += entry.buffer?.clear() ?? 0;
    this.#emit(entry, 'removed');
  }

  #newBuffer(): PacketBuffer {
    return new PacketBuffer(this.options.bufferCapacity, this.options.budget, this.options.dedupeKey);
  }

  #emit(entry: Entry, state: NatState | 'removed'): void {
    this.#events.push({
      type: 'nat_state_changed',
      key: { gatewayId: entry.gatewayId, domain: entry.domain, resourceId: entry.resourceId },
      state,
    });
  }
}

function keyOf(key: NatKey): string {
  // A domain in normal form has no newline (odd bytes are escaped); the ids are the portal's own (UUID-like).
  return `${key.gatewayId}\n${key.resourceId}\n${key.domain}`;
}
