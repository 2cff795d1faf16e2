import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { z } from 'zod';
import type { GatewayToPortal, PortalToGateway, RegisterGateway } from '../../protocol/portal-gateway.js';
import type { GatewayRow } from '../db/schema.js';
import { nextTunnelIndex, siteResources, toGatewayInfo, toProtocolResource } from '../store/access.js';
import type { SocketSink } from './client-connection.js';
import type { GatewayLink, Hub } from './hub.js';
import { Serial } from './serial.js';
import { tunnelAddresses } from './tunnel-addresses.js';

export const CLOSE_REPLACED = 4002;
export const CLOSE_TOKEN_REVOKED = 4001;

/**
 * One gateway socket, authenticated by a site's gateway token. Registration makes it the gateway's current socket
 * (presence lives in the shared `gateways` table, so every instance can select it) and re-sends its live
 * authorizations, so a restarted gateway accepts its clients again without them asking. Each one the gateway
 * acknowledges is pushed to its client again with this connection's id: that tells the client the gateway restarted
 * (its WireGuard session and DNS-resource NAT there are gone), so it handshakes and sets the NAT up again at once.
 */
export class GatewayConnection implements GatewayLink {
  readonly connectionId = randomUUID();
  #gateway: GatewayRow | undefined;
  #sentResources = new Map<string, string>();
  /** Authorizations re-sent on registration and not acknowledged yet, by ref: what to push to their clients. */
  readonly #reinstalling = new Map<
    string,
    { deviceId: string; resourceId: string; presharedKey: string; expiresAt: number }
  >();
  readonly #serial = new Serial();
  #alive = true;
  #closed = false;

  constructor(
    private readonly hub: Hub,
    private readonly socket: SocketSink<PortalToGateway>,
    private readonly credentials: { tokenId: string; siteId: string },
  ) {}

  handle(message: GatewayToPortal): Promise<void> {
    switch (message.type) {
      case 'register_gateway':
        return this.#serial.run(() => this.#register(message));
      case 'client_authorized':
        if (!this.#gateway) {
          this.socket.send({ type: 'error', code: 'not_registered', message: 'send register_gateway first' });
          return Promise.resolve();
        }
        return this.#acked(this.#gateway, message.ref);
    }
  }

  async #acked(gateway: GatewayRow, ref: string): Promise<void> {
    await this.hub.gatewayAcked(gateway.id, ref, this.connectionId);
    const reinstalled = this.#reinstalling.get(ref);
    if (!reinstalled) return;
    this.#reinstalling.delete(ref);
    // Only if it is still live and still this gateway's (not revoked or moved while the gateway reconnected).
    const live = await this.hub.db
      .selectFrom('authorizations')
      .select('id')
      .where('id', '=', ref)
      .where('gateway_id', '=', gateway.id)
      .where('expires_at', '>', sql<Date>`now()`)
      .executeTakeFirst();
    if (!live || this.#closed) return;
    await this.hub.sendToDevice(reinstalled.deviceId, {
      type: 'authorization_created',
      resourceId: reinstalled.resourceId,
      gateway: toGatewayInfo(gateway, this.connectionId),
      presharedKey: reinstalled.presharedKey,
      expiresAt: reinstalled.expiresAt,
    });
  }

  send(message: PortalToGateway): void {
    if (!this.#closed) this.socket.send(message);
  }

  alive(): boolean {
    return this.#alive;
  }

  /** Called by the WebSocket layer on each pong / missed pong. */
  setAlive(alive: boolean): void {
    this.#alive = alive;
  }

  resync(): Promise<void> {
    return this.#serial.run(() => this.#resync());
  }

  async closed(): Promise<void> {
    this.#closed = true;
    const gateway = this.#gateway;
    if (!gateway) return;
    this.hub.detachGateway(gateway.id, this);
    await this.hub.db
      .updateTable('gateways')
      .set({ instance_id: null, connection_id: null })
      .where('id', '=', gateway.id)
      .where('connection_id', '=', this.connectionId)
      .execute();
  }

  async #register(message: z.infer<typeof RegisterGateway>): Promise<void> {
    const db = this.hub.db;
    const { siteId } = this.credentials;
    const details = {
      name: message.name,
      version: message.version,
      endpoint_host: message.endpoint.host,
      endpoint_port: message.endpoint.port,
      instance_id: this.hub.instanceId,
      connection_id: this.connectionId,
      last_seen_at: sql<Date>`now()`,
    };
    const existing = await db
      .selectFrom('gateways')
      .select('id')
      .where('site_id', '=', siteId)
      .where('public_key', '=', message.publicKey)
      .executeTakeFirst();
    const addresses = existing ? undefined : tunnelAddresses(await nextTunnelIndex(db));
    if (!existing && !addresses) throw new Error('the tunnel address range is exhausted');
    const gateway = existing
      ? await db
          .updateTable('gateways')
          .set(details)
          .where('id', '=', existing.id)
          .returningAll()
          .executeTakeFirstOrThrow()
      : await db
          .insertInto('gateways')
          .values({ id: randomUUID(), site_id: siteId, public_key: message.publicKey, ...details, ...addresses! })
          .onConflict((oc) => oc.columns(['site_id', 'public_key']).doUpdateSet(details))
          .returningAll()
          .executeTakeFirstOrThrow();
    if (this.#gateway && this.#gateway.id !== gateway.id) this.hub.detachGateway(this.#gateway.id, this);
    this.#gateway = gateway;
    this.hub.attachGateway(gateway.id, this)?.socketReplaced();
    this.send({
      type: 'init',
      gateway: { id: gateway.id, siteId, tunnel: { ipv4: gateway.ipv4, ipv6: gateway.ipv6 } },
    });
    this.#sentResources = new Map((await siteResources(db, siteId)).map((r) => [r.id, JSON.stringify(r)]));
    await this.#resendAuthorizations(gateway.id);
    // Another instance may still hold an older socket of this gateway; the change makes it let go.
    await this.hub.changed();
  }

  /** After a reconnect the gateway has forgotten everything; replay what is still live (see `#acked`). */
  async #resendAuthorizations(gatewayId: string): Promise<void> {
    const rows = await this.hub.db
      .selectFrom('authorizations as a')
      .innerJoin('devices as d', 'd.id', 'a.device_id')
      .innerJoin('resources as r', 'r.id', 'a.resource_id')
      .innerJoin('preshared_keys as k', (join) =>
        join.onRef('k.device_id', '=', 'a.device_id').onRef('k.gateway_id', '=', 'a.gateway_id'),
      )
      .selectAll('r')
      .select(['a.id as ref', 'a.expires_at', 'd.id as device_id', 'd.public_key', 'd.ipv4', 'd.ipv6', 'k.key'])
      .where('a.gateway_id', '=', gatewayId)
      .where('a.expires_at', '>', sql<Date>`now()`)
      .execute();
    for (const row of rows) {
      const expiresAt = row.expires_at.getTime();
      this.#reinstalling.set(row.ref, {
        deviceId: row.device_id,
        resourceId: row.id,
        presharedKey: row.key,
        expiresAt,
      });
      this.send({
        type: 'authorize_client',
        ref: row.ref,
        client: { id: row.device_id, publicKey: row.public_key, tunnel: { ipv4: row.ipv4, ipv6: row.ipv6 } },
        resource: toProtocolResource(row),
        presharedKey: row.key,
        expiresAt,
      });
    }
  }

  async #resync(): Promise<void> {
    if (this.#closed) return;
    const db = this.hub.db;
    const token = await db
      .selectFrom('gateway_tokens')
      .select('id')
      .where('id', '=', this.credentials.tokenId)
      .executeTakeFirst();
    if (!token) return this.#close(CLOSE_TOKEN_REVOKED, 'gateway token revoked');
    const gateway = this.#gateway;
    if (!gateway) return;
    const row = await db.selectFrom('gateways').select('connection_id').where('id', '=', gateway.id).executeTakeFirst();
    if (row?.connection_id !== this.connectionId) return this.socketReplaced();
    const resources = await siteResources(db, this.credentials.siteId);
    const current = new Map(resources.map((r) => [r.id, JSON.stringify(r)]));
    for (const resource of resources) {
      const before = this.#sentResources.get(resource.id);
      if (before !== undefined && before !== current.get(resource.id))
        this.send({ type: 'resource_updated', resource });
    }
    this.#sentResources = current;
  }

  /** A newer socket of the same gateway took over. */
  socketReplaced(): void {
    this.#close(CLOSE_REPLACED, 'replaced by a newer connection of this gateway');
  }

  #close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.socket.close(code, reason);
  }
}
