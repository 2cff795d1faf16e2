import { sql } from 'kysely';
import { z } from 'zod';
import { PortalToClient } from '../../protocol/portal-client.js';
import { PortalToGateway } from '../../protocol/portal-gateway.js';
import type { Storage } from '../db/open.js';

/**
 * Messages between portal instances sharing one database, carried by NOTIFY (PostgreSQL; PGlite in-process too, so
 * both engines take the same path). Payloads are validated like any other input: another instance may run another
 * version.
 */
export const BusMessage = z.discriminatedUnion('kind', [
  /** Directory, policies, sessions or settings changed: every instance resynchronises its sockets. */
  z.object({ kind: z.literal('changed') }),
  /** Deliver to the gateway's socket, wherever it is connected. */
  z.object({ kind: z.literal('to_gateway'), gatewayId: z.string(), message: PortalToGateway }),
  /** Deliver to every socket of the device, wherever it is connected. */
  z.object({ kind: z.literal('to_device'), deviceId: z.string(), message: PortalToClient }),
  /**
   * A gateway acknowledged `ref` over its connection `connectionId` (absent from older instances); the instance
   * waiting for it answers its client.
   */
  z.object({
    kind: z.literal('gateway_ack'),
    gatewayId: z.string(),
    ref: z.string(),
    connectionId: z.string().optional(),
  }),
]);
export type BusMessage = z.infer<typeof BusMessage>;

const CHANNEL = 'postern_portal';
/** PostgreSQL's NOTIFY payload limit is 8000 bytes. */
const MAX_PAYLOAD = 7900;

export class Bus {
  constructor(
    private readonly storage: Storage,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {}

  /** `onMessage` gets every message, including this instance's own; an empty payload (listener reconnected) → changed. */
  async start(onMessage: (message: BusMessage) => void): Promise<void> {
    await this.storage.listen(CHANNEL, (payload) => {
      if (payload === '') return onMessage({ kind: 'changed' });
      let json: unknown;
      try {
        json = JSON.parse(payload);
      } catch {
        json = undefined;
      }
      const parsed = BusMessage.safeParse(json);
      if (parsed.success) onMessage(parsed.data);
      else this.log.warn({ payload: payload.slice(0, 200) }, 'dropped a malformed bus message');
    });
  }

  async publish(message: BusMessage): Promise<void> {
    const payload = JSON.stringify(message);
    if (payload.length > MAX_PAYLOAD) {
      this.log.warn({ kind: message.kind, bytes: payload.length }, 'bus message too large for NOTIFY; dropped');
      return;
    }
    await sql`select pg_notify(${CHANNEL}, ${payload})`.execute(this.storage.db);
  }
}
