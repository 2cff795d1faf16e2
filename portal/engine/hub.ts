import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { PortalToClient } from '../../protocol/portal-client.js';
import type { PortalToGateway } from '../../protocol/portal-gateway.js';
import type { Storage } from '../db/open.js';
import type { Bus, BusMessage } from '../live/bus.js';
import type { Db } from '../store/directory.js';
import { reconcileAuthorizations } from './reconcile.js';

export interface PortalTimings {
  /** WebSocket ping interval; a socket that misses one pong is dead. Gateways count as offline after 3 intervals. */
  heartbeatMs: number;
  /** How long a gateway has to answer `authorize_client` before the client gets `authorization_failed`. */
  gatewayAckTimeoutMs: number;
  /** Longest authorization; it also ends with the client token. */
  authorizationTtlMs: number;
  /** Lifetime of client tokens issued by sign-in (the admin API may choose another). */
  clientTokenTtlMs: number;
  /** Lifetime of a pending sign-in and of its one-time code. */
  signInTtlMs: number;
}

export const DEFAULT_TIMINGS: PortalTimings = {
  heartbeatMs: 2_000,
  gatewayAckTimeoutMs: 5_000,
  authorizationTtlMs: 12 * 3600_000,
  clientTokenTtlMs: 30 * 24 * 3600_000,
  signInTtlMs: 5 * 60_000,
};

/** What the hub needs from a connected socket's session object. */
export interface LiveConnection {
  /** Re-reads what this socket depends on and pushes the differences (or closes the socket). */
  resync(): Promise<void>;
}

export interface ClientLink extends LiveConnection {
  send(message: PortalToClient): void;
}

export interface GatewayLink extends LiveConnection {
  readonly connectionId: string;
  send(message: PortalToGateway): void;
  /** Whether the socket answered the last ping. */
  alive(): boolean;
  /** A newer socket of the same gateway took over: close this one. */
  socketReplaced(): void;
}

/**
 * This instance's live state: its client and gateway sockets, the authorizations waiting for a gateway's ack, and
 * the bus to the other instances. Changes anywhere reach every instance as `changed`; each then reconciles
 * authorizations and resynchronises its own sockets (coalesced, so a burst of changes costs one pass).
 */
export class Hub {
  readonly instanceId = randomUUID();
  /** Client sockets, with the device each registered as (undefined until it did). */
  readonly #clients = new Map<ClientLink, string | undefined>();
  /** Registered client sockets by device (a device may briefly have two: a reconnect before the old one closed). */
  readonly #devices = new Map<string, Set<ClientLink>>();
  readonly #gateways = new Map<string, GatewayLink>();
  readonly #pendingAcks = new Map<string, { gatewayId: string; resolve: (connectionId: string | undefined) => void }>();
  #resync: { running: boolean; again: boolean } = { running: false, again: false };
  #heartbeat: NodeJS.Timeout | undefined;
  #idle: Promise<void> = Promise.resolve();

  constructor(
    readonly storage: Storage,
    private readonly bus: Bus,
    readonly timings: PortalTimings,
    readonly log: Logger,
  ) {}

  get db(): Db {
    return this.storage.db;
  }

  async start(): Promise<void> {
    await this.bus.start((message) => this.#onBus(message));
    this.#heartbeat = setInterval(() => void this.#touchGateways(), this.timings.heartbeatMs);
  }

  stop(): void {
    clearInterval(this.#heartbeat);
    for (const pending of this.#pendingAcks.values()) pending.resolve(undefined);
  }

  /** Tells every instance (this one too) that the directory, policies, sessions or settings changed. */
  async changed(): Promise<void> {
    await this.bus.publish({ kind: 'changed' });
  }

  /** Resolves once the resync passes started so far have finished (tests and shutdown). */
  settled(): Promise<void> {
    return this.#idle;
  }

  addClient(connection: ClientLink): void {
    this.#clients.set(connection, undefined);
  }

  /** The socket registered as `deviceId`: it gets what `sendToDevice` sends the device from now on. */
  deviceRegistered(connection: ClientLink, deviceId: string): void {
    if (!this.#clients.has(connection)) return;
    this.#forgetDevice(connection);
    this.#clients.set(connection, deviceId);
    let links = this.#devices.get(deviceId);
    if (!links) this.#devices.set(deviceId, (links = new Set()));
    links.add(connection);
  }

  removeClient(connection: ClientLink): void {
    this.#forgetDevice(connection);
    this.#clients.delete(connection);
  }

  #forgetDevice(connection: ClientLink): void {
    const deviceId = this.#clients.get(connection);
    const links = deviceId === undefined ? undefined : this.#devices.get(deviceId);
    if (links?.delete(connection) && links.size === 0) this.#devices.delete(deviceId!);
  }

  /** Sends to every socket of the device, on whichever instances hold them (through the bus, this one included). */
  async sendToDevice(deviceId: string, message: PortalToClient): Promise<void> {
    await this.bus.publish({ kind: 'to_device', deviceId, message });
  }

  /** Registers the socket now serving `gatewayId`; an older socket of the same gateway here is replaced. */
  attachGateway(gatewayId: string, link: GatewayLink): GatewayLink | undefined {
    const previous = this.#gateways.get(gatewayId);
    this.#gateways.set(gatewayId, link);
    return previous === link ? undefined : previous;
  }

  detachGateway(gatewayId: string, link: GatewayLink): void {
    if (this.#gateways.get(gatewayId) === link) this.#gateways.delete(gatewayId);
  }

  /** Sends to the gateway's socket on whichever instance holds it. */
  async sendToGateway(gatewayId: string, message: PortalToGateway): Promise<void> {
    const local = this.#gateways.get(gatewayId);
    if (local) local.send(message);
    else await this.bus.publish({ kind: 'to_gateway', gatewayId, message });
  }

  /**
   * Waits for the gateway's `client_authorized {ref}`: the id of the gateway connection that acknowledged it (the
   * gateway process that installed it), or undefined on timeout. Call before sending the request.
   */
  expectAck(gatewayId: string, ref: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), this.timings.gatewayAckTimeoutMs);
      const finish = (connectionId: string | undefined) => {
        clearTimeout(timer);
        this.#pendingAcks.delete(ref);
        resolve(connectionId);
      };
      this.#pendingAcks.set(ref, { gatewayId, resolve: finish });
    });
  }

  /** A gateway connected here acknowledged `ref` over its connection `connectionId`. */
  async gatewayAcked(gatewayId: string, ref: string, connectionId: string): Promise<void> {
    if (!this.#resolveAck(gatewayId, ref, connectionId)) {
      await this.bus.publish({ kind: 'gateway_ack', gatewayId, ref, connectionId });
    }
  }

  #resolveAck(gatewayId: string, ref: string, connectionId: string | undefined): boolean {
    const pending = this.#pendingAcks.get(ref);
    // An ack counts only from the gateway the request went to.
    if (!pending || pending.gatewayId !== gatewayId) return false;
    pending.resolve(connectionId);
    return true;
  }

  #onBus(message: BusMessage): void {
    switch (message.kind) {
      case 'changed':
        this.#scheduleResync();
        return;
      case 'to_gateway':
        this.#gateways.get(message.gatewayId)?.send(message.message);
        return;
      case 'to_device':
        for (const link of this.#devices.get(message.deviceId) ?? []) link.send(message.message);
        return;
      case 'gateway_ack':
        this.#resolveAck(message.gatewayId, message.ref, message.connectionId);
        return;
    }
  }

  #scheduleResync(): void {
    if (this.#resync.running) {
      this.#resync.again = true;
      return;
    }
    this.#resync.running = true;
    this.#idle = this.#runResync();
  }

  async #runResync(): Promise<void> {
    do {
      this.#resync.again = false;
      try {
        await this.#revokeStale();
        const connections = [...this.#clients.keys(), ...this.#gateways.values()];
        await Promise.all(connections.map((c) => c.resync()));
      } catch (err) {
        this.log.error({ err }, 'resynchronising sockets failed');
      }
    } while (this.#resync.again);
    this.#resync.running = false;
  }

  async #revokeStale(): Promise<void> {
    const revocations = await reconcileAuthorizations(this.db);
    for (const r of revocations) {
      this.log.info(r, 'authorization revoked');
      await this.sendToGateway(r.gatewayId, {
        type: 'revoke_authorization',
        clientId: r.deviceId,
        resourceId: r.resourceId,
      });
    }
  }

  /** Presence: gateways whose socket here answered the last ping stay fresh in the shared table. */
  async #touchGateways(): Promise<void> {
    const alive = [...this.#gateways.values()].filter((g) => g.alive()).map((g) => g.connectionId);
    if (alive.length === 0) return;
    try {
      await this.db
        .updateTable('gateways')
        .set({ last_seen_at: sql<Date>`now()` })
        .where('connection_id', 'in', alive)
        .execute();
    } catch (err) {
      this.log.warn({ err }, 'gateway presence update failed');
    }
  }
}
