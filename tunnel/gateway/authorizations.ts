import type { ClientInfo } from '../../protocol/portal-gateway.js';
import type { Resource, ResourceId } from '../../protocol/resources.js';
import { addressKey, parseAddress, type AddressKey } from '../packet/index.js';
import type { IpBytes } from './destinations.js';

/**
 * Who may use the gateway, for what and until when (DESIGN.md "Gateway behaviour" 1). A client exists here only while
 * at least one of its authorizations does; the WireGuard peer follows that (see `PeerChange`).
 */

export interface Authorization {
  resource: Resource;
  /** Unix epoch milliseconds, on the same clock as `now`. */
  expiresAt: number;
}

export interface AuthorizedClient {
  readonly id: string;
  readonly publicKey: string;
  readonly presharedKey: string;
  readonly ipv4: IpBytes;
  readonly ipv6: IpBytes;
  readonly authorizations: Map<ResourceId, Authorization>;
}

/** What the WireGuard device must do after a change of the table. */
export type PeerChange =
  { type: 'peer_upserted'; client: AuthorizedClient } | { type: 'peer_removed'; clientId: string; publicKey: string };

export type AuthorizeOutcome =
  | { ok: true; peer?: PeerChange; replacedPeer?: PeerChange }
  | { ok: false; reason: 'expired' | 'bad_tunnel_address' | 'tunnel_address_in_use' };

export interface AuthorizeInput {
  client: ClientInfo;
  resource: Resource;
  presharedKey: string;
  expiresAt: number;
}

/** One authorization that ended (revoked, expired or replaced by a client's new key). */
export interface EndedAuthorization {
  clientId: string;
  resourceId: ResourceId;
}

export class AuthorizationTable {
  private readonly clients = new Map<string, AuthorizedClient>();
  private readonly byAddress = new Map<AddressKey, AuthorizedClient>();
  /** `nextExpiry()` memo; null when the table changed since. */
  private earliest: number | undefined | null = null;

  get size(): number {
    return this.clients.size;
  }

  get(clientId: string): AuthorizedClient | undefined {
    return this.clients.get(clientId);
  }

  /** The client whose tunnel address this is (replies from the network are addressed to it). */
  byTunnelAddress(addr: IpBytes): AuthorizedClient | undefined {
    return this.byAddress.get(addressKey(addr));
  }

  all(): IterableIterator<AuthorizedClient> {
    return this.clients.values();
  }

  /** Adds or replaces the (client, resource) authorization. */
  authorize(input: AuthorizeInput, now: number): AuthorizeOutcome {
    if (input.expiresAt <= now) return { ok: false, reason: 'expired' };
    const ipv4 = parseAddress(input.client.tunnel.ipv4);
    const ipv6 = parseAddress(input.client.tunnel.ipv6);
    if (ipv4?.length !== 4 || ipv6?.length !== 16) return { ok: false, reason: 'bad_tunnel_address' };
    for (const addr of [ipv4, ipv6]) {
      const owner = this.byAddress.get(addressKey(addr));
      // Two devices with one tunnel address would receive each other's replies: refuse rather than guess.
      if (owner && owner.id !== input.client.id) return { ok: false, reason: 'tunnel_address_in_use' };
    }

    const existing = this.clients.get(input.client.id);
    const sameKeys =
      existing?.publicKey === input.client.publicKey &&
      existing.presharedKey === input.presharedKey &&
      addressKey(existing.ipv4) === addressKey(ipv4) &&
      addressKey(existing.ipv6) === addressKey(ipv6);
    const authorization = { resource: input.resource, expiresAt: input.expiresAt };
    this.earliest = null;
    if (existing && sameKeys) {
      existing.authorizations.set(input.resource.id, authorization);
      return { ok: true };
    }

    // New client, or the device re-keyed / got new addresses: its authorizations move to the new identity.
    const authorizations = new Map(existing?.authorizations ?? []);
    authorizations.set(input.resource.id, authorization);
    const client: AuthorizedClient = {
      id: input.client.id,
      publicKey: input.client.publicKey,
      presharedKey: input.presharedKey,
      ipv4,
      ipv6,
      authorizations,
    };
    let replacedPeer: PeerChange | undefined;
    if (existing) {
      this.unindex(existing);
      if (existing.publicKey !== client.publicKey) {
        replacedPeer = { type: 'peer_removed', clientId: existing.id, publicKey: existing.publicKey };
      }
    }
    this.clients.set(client.id, client);
    this.byAddress.set(addressKey(ipv4), client);
    this.byAddress.set(addressKey(ipv6), client);
    return { ok: true, peer: { type: 'peer_upserted', client }, ...(replacedPeer ? { replacedPeer } : {}) };
  }

  /** Ends one authorization of a client, or all of them. */
  revoke(clientId: string, resourceId?: ResourceId): { ended: EndedAuthorization[]; peer?: PeerChange } {
    const client = this.clients.get(clientId);
    if (!client) return { ended: [] };
    this.earliest = null;
    const ids = resourceId === undefined ? [...client.authorizations.keys()] : [resourceId];
    const ended: EndedAuthorization[] = [];
    for (const id of ids) if (client.authorizations.delete(id)) ended.push({ clientId, resourceId: id });
    return { ended, ...this.removeIfEmpty(client) };
  }

  /** Ends every authorization whose time is up. */
  expire(now: number): { ended: EndedAuthorization[]; peers: PeerChange[] } {
    const ended: EndedAuthorization[] = [];
    const peers: PeerChange[] = [];
    if (this.earliest === undefined || (this.earliest !== null && this.earliest > now)) return { ended, peers };
    this.earliest = null;
    for (const client of [...this.clients.values()]) {
      for (const [id, auth] of client.authorizations) {
        if (auth.expiresAt > now) continue;
        client.authorizations.delete(id);
        ended.push({ clientId: client.id, resourceId: id });
      }
      const { peer } = this.removeIfEmpty(client);
      if (peer) peers.push(peer);
    }
    return { ended, peers };
  }

  /** The earliest expiry, for `pollTimeout`. */
  nextExpiry(): number | undefined {
    if (this.earliest !== null) return this.earliest;
    let next: number | undefined;
    for (const client of this.clients.values()) {
      for (const auth of client.authorizations.values()) {
        if (next === undefined || auth.expiresAt < next) next = auth.expiresAt;
      }
    }
    this.earliest = next;
    return next;
  }

  /** Replaces a resource's definition in every authorization for it; returns the clients that hold it. */
  updateResource(resource: Resource): AuthorizedClient[] {
    const holders: AuthorizedClient[] = [];
    for (const client of this.clients.values()) {
      const auth = client.authorizations.get(resource.id);
      if (!auth) continue;
      auth.resource = resource;
      holders.push(client);
    }
    return holders;
  }

  private removeIfEmpty(client: AuthorizedClient): { peer?: PeerChange } {
    if (client.authorizations.size > 0) return {};
    this.clients.delete(client.id);
    this.unindex(client);
    return { peer: { type: 'peer_removed', clientId: client.id, publicKey: client.publicKey } };
  }

  private unindex(client: AuthorizedClient): void {
    for (const addr of [client.ipv4, client.ipv6]) {
      if (this.byAddress.get(addressKey(addr)) === client) this.byAddress.delete(addressKey(addr));
    }
  }
}
