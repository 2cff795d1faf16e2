import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { GatewayInfo } from '../../protocol/portal-client.js';
import type { Resource } from '../../protocol/resources.js';
import type { GatewayRow, ResourceRow } from '../db/schema.js';
import type { Db } from './directory.js';

/** What the policy engine reads: grants, resources, online gateways and their load. */

export function toProtocolResource(row: ResourceRow): Resource {
  const common = { id: row.id, name: row.name, siteId: row.site_id, filters: row.filters };
  return row.type === 'dns'
    ? { ...common, type: 'dns', address: row.address, ipStack: row.ip_stack }
    : { ...common, type: 'cidr', address: row.address };
}

/** A gateway as a client sees it in `authorization_created`, as served over its connection `connectionId`. */
export function toGatewayInfo(row: GatewayRow, connectionId: string): GatewayInfo {
  return {
    id: row.id,
    siteId: row.site_id,
    publicKey: row.public_key,
    endpoint: { host: row.endpoint_host, port: row.endpoint_port },
    tunnel: { ipv4: row.ipv4, ipv6: row.ipv6 },
    connectionId,
  };
}

/** The resources some policy grants to one of the account's groups. */
export async function grantedResources(db: Db, accountId: string): Promise<Resource[]> {
  const rows = await db
    .selectFrom('resources')
    .selectAll('resources')
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('policies')
          .innerJoin('memberships', 'memberships.group_id', 'policies.group_id')
          .select(sql.lit(1).as('one'))
          .whereRef('policies.resource_id', '=', 'resources.id')
          .where('memberships.account_id', '=', accountId),
      ),
    )
    .orderBy('resources.name')
    .execute();
  return rows.map(toProtocolResource);
}

export async function isGranted(db: Db, accountId: string, resourceId: string): Promise<boolean> {
  const row = await db
    .selectFrom('policies')
    .innerJoin('memberships', 'memberships.group_id', 'policies.group_id')
    .select('policies.id')
    .where('policies.resource_id', '=', resourceId)
    .where('memberships.account_id', '=', accountId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function findResource(db: Db, id: string): Promise<ResourceRow | undefined> {
  return db.selectFrom('resources').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function siteResources(db: Db, siteId: string): Promise<Resource[]> {
  const rows = await db.selectFrom('resources').selectAll().where('site_id', '=', siteId).execute();
  return rows.map(toProtocolResource);
}

/**
 * Gateways of the site whose socket is open on some portal instance and answered a heartbeat within `staleAfterMs`,
 * with their load (devices holding a live authorization through them).
 */
export async function onlineGateways(db: Db, siteId: string, staleAfterMs: number) {
  return db
    .selectFrom('gateways')
    .selectAll('gateways')
    .select((eb) =>
      eb
        .selectFrom('authorizations')
        .select(sql<number>`count(distinct device_id)::int`.as('n'))
        .whereRef('authorizations.gateway_id', '=', 'gateways.id')
        .where('authorizations.expires_at', '>', sql<Date>`now()`)
        .as('load'),
    )
    .where('site_id', '=', siteId)
    .where('connection_id', 'is not', null)
    .where('last_seen_at', '>', sql<Date>`now() - make_interval(secs => ${staleAfterMs / 1000})`)
    .execute();
}

/** The WireGuard preshared key of a (device, gateway) pair, created on first use. */
export async function presharedKey(db: Db, deviceId: string, gatewayId: string): Promise<string> {
  await db
    .insertInto('preshared_keys')
    .values({ device_id: deviceId, gateway_id: gatewayId, key: randomBytes(32).toString('base64') })
    .onConflict((oc) => oc.columns(['device_id', 'gateway_id']).doNothing())
    .execute();
  const row = await db
    .selectFrom('preshared_keys')
    .select('key')
    .where('device_id', '=', deviceId)
    .where('gateway_id', '=', gatewayId)
    .executeTakeFirstOrThrow();
  return row.key;
}

/** The next free pair of tunnel addresses' index (devices and gateways share the sequence). */
export async function nextTunnelIndex(db: Db): Promise<number> {
  const { rows } = await sql<{ n: number }>`select nextval('tunnel_address_seq')::int as n`.execute(db);
  const n = rows[0]?.n;
  if (n === undefined) throw new Error('tunnel address sequence returned nothing');
  return n;
}
