import { sql } from 'kysely';
import type { Db } from '../store/directory.js';

export interface Revocation {
  gatewayId: string;
  deviceId: string;
  resourceId: string;
}

/**
 * Deletes every live authorization that no longer holds (session revoked or expired, account disabled, device gone,
 * resource gone or moved to another site, gateway gone, no policy grants it) and returns what to revoke on gateways.
 * Any instance may run it after any change: the DELETE … RETURNING hands each revocation to exactly one of them.
 * Expired authorizations are deleted without a revocation: gateways expire them on their own.
 */
export async function reconcileAuthorizations(db: Db): Promise<Revocation[]> {
  await db
    .deleteFrom('authorizations')
    .where('expires_at', '<=', sql<Date>`now()`)
    .execute();
  const stale = await db
    .selectFrom('authorizations as a')
    .leftJoin('client_tokens as t', 't.id', 'a.token_id')
    .leftJoin('accounts as acc', 'acc.id', 'a.account_id')
    .leftJoin('devices as d', 'd.id', 'a.device_id')
    .leftJoin('resources as r', 'r.id', 'a.resource_id')
    .leftJoin('gateways as g', 'g.id', 'a.gateway_id')
    .select('a.id')
    .where(({ or, eb, not, exists, selectFrom }) =>
      or([
        eb('t.id', 'is', null),
        eb('t.revoked_at', 'is not', null),
        eb('t.expires_at', '<=', sql<Date>`now()`),
        eb('acc.id', 'is', null),
        eb('acc.disabled', '=', true),
        eb('d.id', 'is', null),
        eb('d.account_id', '<>', eb.ref('a.account_id')),
        eb('r.id', 'is', null),
        eb('g.id', 'is', null),
        eb('r.site_id', '<>', eb.ref('g.site_id')),
        not(
          exists(
            selectFrom('policies as p')
              .innerJoin('memberships as m', 'm.group_id', 'p.group_id')
              .select(sql.lit(1).as('one'))
              .whereRef('p.resource_id', '=', 'a.resource_id')
              .whereRef('m.account_id', '=', 'a.account_id'),
          ),
        ),
      ]),
    )
    .execute();
  if (stale.length === 0) return [];
  const deleted = await db
    .deleteFrom('authorizations')
    .where(
      'id',
      'in',
      stale.map((s) => s.id),
    )
    .returning(['gateway_id', 'device_id', 'resource_id'])
    .execute();
  return deleted.map((d) => ({ gatewayId: d.gateway_id, deviceId: d.device_id, resourceId: d.resource_id }));
}
