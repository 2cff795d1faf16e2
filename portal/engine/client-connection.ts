import { randomUUID } from 'node:crypto';
import type {
  ClientToPortal,
  PortalToClient,
  RegisterDevice,
  RequestAuthorization,
} from '../../protocol/portal-client.js';
import type { z } from 'zod';
import type { DeviceRow } from '../db/schema.js';
import { grantedResources, nextTunnelIndex } from '../store/access.js';
import { getSettings } from '../store/directory.js';
import { clientSessionById, type ClientSession } from '../store/sessions.js';
import { authorize } from './authorize.js';
import type { ClientLink, Hub } from './hub.js';
import { Serial } from './serial.js';
import { tunnelAddresses } from './tunnel-addresses.js';

/** Close codes a client sees (4000–4999 are the application's). */
export const CLOSE_SESSION_ENDED = 4001;
export const CLOSE_DEVICE_REMOVED = 4003;

export interface SocketSink<Message> {
  send(message: Message): void;
  close(code: number, reason: string): void;
}

/**
 * One client socket: registers the device, sends `init`, answers authorization requests, and pushes what changes
 * for this account. State changes run one at a time (registration, resync); authorization requests run beside them
 * so a slow gateway does not hold up live updates.
 */
export class ClientConnection implements ClientLink {
  #device: DeviceRow | undefined;
  #sentResources = new Map<string, string>();
  #sentSettings = '';
  readonly #serial = new Serial();
  #expiry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly hub: Hub,
    private readonly socket: SocketSink<PortalToClient>,
    private readonly session: ClientSession,
  ) {
    this.#scheduleExpiry();
  }

  handle(message: ClientToPortal): Promise<void> {
    switch (message.type) {
      case 'register_device':
        return this.#serial.run(() => this.#register(message));
      case 'request_authorization':
        return this.#authorize(message);
    }
  }

  resync(): Promise<void> {
    return this.#serial.run(() => this.#resync());
  }

  /** A message for this device from elsewhere in the portal (an authorization re-installed by a gateway). */
  send(message: PortalToClient): void {
    if (!this.#closed) this.socket.send(message);
  }

  closed(): void {
    this.#closed = true;
    clearTimeout(this.#expiry);
  }

  async #register(message: z.infer<typeof RegisterDevice>): Promise<void> {
    const db = this.hub.db;
    const existing = await db
      .selectFrom('devices')
      .selectAll()
      .where('public_key', '=', message.publicKey)
      .executeTakeFirst();
    const details = {
      name: message.name,
      os: message.os,
      version: message.version,
      account_id: this.session.accountId,
    };
    let device: DeviceRow;
    if (existing) {
      // Same key, same device: keep its addresses. A key signing in under another account (a laptop changing hands)
      // moves the device; the previous account's authorizations for it are revoked by the change below.
      device = await db
        .updateTable('devices')
        .set({ ...details, last_seen_at: new Date() })
        .where('id', '=', existing.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    } else {
      const addresses = tunnelAddresses(await nextTunnelIndex(db));
      if (!addresses) throw new Error('the tunnel address range is exhausted');
      device = await db
        .insertInto('devices')
        .values({ id: randomUUID(), public_key: message.publicKey, ...details, ...addresses })
        .onConflict((oc) => oc.column('public_key').doUpdateSet(details))
        .returningAll()
        .executeTakeFirstOrThrow();
    }
    this.#device = device;
    if (existing && existing.account_id !== this.session.accountId) await this.hub.changed();
    const [resources, settings] = await Promise.all([grantedResources(db, this.session.accountId), getSettings(db)]);
    this.#sentResources = new Map(resources.map((r) => [r.id, JSON.stringify(r)]));
    this.#sentSettings = JSON.stringify(settings);
    this.socket.send({
      type: 'init',
      device: { id: device.id, tunnel: { ipv4: device.ipv4, ipv6: device.ipv6 } },
      account: { id: this.session.accountId, email: this.session.email },
      resources,
      upstreamResolvers: settings.upstreamResolvers,
      blockRules: settings.blockRules,
      ...(settings.mappedRanges ? { mappedRanges: settings.mappedRanges } : {}),
    });
    // Only after `init`: the client makes sense of an authorization once it knows its resources.
    this.hub.deviceRegistered(this, device.id);
  }

  async #authorize(message: z.infer<typeof RequestAuthorization>): Promise<void> {
    await this.#serial.idle();
    const device = this.#device;
    if (!device) {
      this.socket.send({ type: 'error', code: 'not_registered', message: 'send register_device first' });
      return;
    }
    const answer = await authorize(this.hub, this.session, device, message);
    if (!this.#closed) this.socket.send(answer);
  }

  async #resync(): Promise<void> {
    if (this.#closed) return;
    const db = this.hub.db;
    if (!(await clientSessionById(db, this.session.tokenId))) {
      return this.#close(CLOSE_SESSION_ENDED, 'session revoked or expired');
    }
    if (!this.#device) return;
    const device = await db
      .selectFrom('devices')
      .select('account_id')
      .where('id', '=', this.#device.id)
      .executeTakeFirst();
    if (device?.account_id !== this.session.accountId) return this.#close(CLOSE_DEVICE_REMOVED, 'device removed');
    const [resources, settings] = await Promise.all([grantedResources(db, this.session.accountId), getSettings(db)]);
    const current = new Map(resources.map((r) => [r.id, JSON.stringify(r)]));
    for (const id of this.#sentResources.keys()) {
      if (!current.has(id)) this.socket.send({ type: 'resource_deleted', resourceId: id });
    }
    for (const resource of resources) {
      if (this.#sentResources.get(resource.id) !== current.get(resource.id)) {
        this.socket.send({ type: 'resource_created_or_updated', resource });
      }
    }
    this.#sentResources = current;
    const settingsJson = JSON.stringify(settings);
    if (settingsJson !== this.#sentSettings) {
      this.#sentSettings = settingsJson;
      this.socket.send({
        type: 'config_changed',
        upstreamResolvers: settings.upstreamResolvers,
        blockRules: settings.blockRules,
        ...(settings.mappedRanges ? { mappedRanges: settings.mappedRanges } : {}),
      });
    }
  }

  #close(code: number, reason: string): void {
    this.closed();
    this.socket.close(code, reason);
  }

  #scheduleExpiry(): void {
    // setTimeout holds at most 2^31-1 ms (~24.8 days); longer tokens are checked again when that fires.
    const delay = Math.min(this.session.expiresAt - Date.now(), 2 ** 31 - 1);
    this.#expiry = setTimeout(
      () => {
        if (Date.now() >= this.session.expiresAt) this.#close(CLOSE_SESSION_ENDED, 'session expired');
        else this.#scheduleExpiry();
      },
      Math.max(delay, 0),
    );
  }
}

export type { ClientSession };
