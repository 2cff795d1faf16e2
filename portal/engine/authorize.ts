import { randomUUID } from 'node:crypto';
import type { AuthorizationFailed, PortalToClient, RequestAuthorization } from '../../protocol/portal-client.js';
import type { z } from 'zod';
import type { DeviceRow } from '../db/schema.js';
import {
  findResource,
  isGranted,
  onlineGateways,
  presharedKey,
  toGatewayInfo,
  toProtocolResource,
} from '../store/access.js';
import type { ClientSession } from '../store/sessions.js';
import { selectGateway } from './gateway-selection.js';
import type { Hub } from './hub.js';

/**
 * The policy engine's answer to one `request_authorization`: check the grant, pick an online gateway of the
 * resource's site, record the authorization, have the gateway install it, and only after its ack tell the client.
 */
export async function authorize(
  hub: Hub,
  session: ClientSession,
  device: DeviceRow,
  request: z.infer<typeof RequestAuthorization>,
): Promise<PortalToClient> {
  const { resourceId } = request;
  const failed = (reason: z.infer<typeof AuthorizationFailed>['reason'], message: string): PortalToClient => ({
    type: 'authorization_failed',
    resourceId,
    reason,
    message,
  });
  const db = hub.db;
  const resource = await findResource(db, resourceId);
  if (!resource) return failed('not_found', 'no such resource');
  if (!(await isGranted(db, session.accountId, resourceId)))
    return failed('forbidden', 'no policy grants this resource');
  const candidates = (await onlineGateways(db, resource.site_id, 3 * hub.timings.heartbeatMs)).map((g) => ({
    ...g,
    load: g.load ?? 0,
  }));
  const chosen = selectGateway(candidates, request.connectedGatewayIds);
  const gateway = candidates.find((c) => c.id === chosen?.id);
  if (!gateway) return failed('offline', 'no gateway of this resource’s site is online');

  const key = await presharedKey(db, device.id, gateway.id);
  const expiresAt = Math.min(session.expiresAt, Date.now() + hub.timings.authorizationTtlMs);
  const ref = randomUUID();
  const previous = await db
    .selectFrom('authorizations')
    .select('gateway_id')
    .where('device_id', '=', device.id)
    .where('resource_id', '=', resourceId)
    .executeTakeFirst();
  // Recorded before the gateway installs it, so a revocation racing with this request finds it.
  const row = {
    id: ref,
    account_id: session.accountId,
    gateway_id: gateway.id,
    token_id: session.tokenId,
    expires_at: new Date(expiresAt),
  };
  await db
    .insertInto('authorizations')
    .values({ ...row, device_id: device.id, resource_id: resourceId })
    .onConflict((oc) => oc.columns(['device_id', 'resource_id']).doUpdateSet(row))
    .execute();
  if (previous && previous.gateway_id !== gateway.id) {
    await hub.sendToGateway(previous.gateway_id, { type: 'revoke_authorization', clientId: device.id, resourceId });
  }

  const acked = hub.expectAck(gateway.id, ref);
  await hub.sendToGateway(gateway.id, {
    type: 'authorize_client',
    ref,
    client: { id: device.id, publicKey: device.public_key, tunnel: { ipv4: device.ipv4, ipv6: device.ipv6 } },
    resource: toProtocolResource(resource),
    presharedKey: key,
    expiresAt,
  });
  // The connection that acknowledged, not the one the row named: the gateway may have reconnected in between.
  const connectionId = await acked;
  if (connectionId === undefined) {
    await db.deleteFrom('authorizations').where('id', '=', ref).execute();
    return failed('offline', 'the gateway did not confirm in time');
  }
  const stillLive = await db.selectFrom('authorizations').select('id').where('id', '=', ref).executeTakeFirst();
  if (!stillLive) return failed('forbidden', 'the authorization was revoked while the gateway installed it');
  return {
    type: 'authorization_created',
    resourceId,
    gateway: toGatewayInfo(gateway, connectionId),
    presharedKey: key,
    expiresAt,
  };
}
