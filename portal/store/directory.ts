import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { MappedRanges } from '../../protocol/portal-client.js';
import type { BlockRule } from '../../protocol/resources.js';
import type { NormalizedResource, NormalizedSettings } from '../config/normalize.js';
import type { Database } from '../db/schema.js';

/**
 * Writes to the admin-managed directory (sites, groups, accounts, resources, policies, settings), shared by the YAML
 * import and the admin API. Every write is by name and idempotent; callers publish a change afterwards.
 */
export type Db = Kysely<Database>;

export async function upsertSite(db: Db, name: string): Promise<string> {
  const row = await db
    .insertInto('sites')
    .values({ id: randomUUID(), name })
    .onConflict((oc) => oc.column('name').doUpdateSet({ name }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function addGatewayTokenHash(db: Db, siteId: string, tokenHash: string): Promise<string> {
  const row = await db
    .insertInto('gateway_tokens')
    .values({ id: randomUUID(), site_id: siteId, token_hash: tokenHash })
    .onConflict((oc) => oc.column('token_hash').doUpdateSet({ site_id: siteId }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Group ids by name, creating the missing groups. */
export async function ensureGroups(db: Db, names: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(names)];
  if (unique.length === 0) return new Map();
  await db
    .insertInto('groups')
    .values(unique.map((name) => ({ id: randomUUID(), name })))
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const rows = await db.selectFrom('groups').select(['id', 'name']).where('name', 'in', unique).execute();
  return new Map(rows.map((r) => [r.name, r.id]));
}

export async function setMemberships(db: Db, accountId: string, groupNames: readonly string[]): Promise<void> {
  const groups = await ensureGroups(db, groupNames);
  await db.deleteFrom('memberships').where('account_id', '=', accountId).execute();
  if (groups.size === 0) return;
  await db
    .insertInto('memberships')
    .values([...groups.values()].map((group_id) => ({ account_id: accountId, group_id })))
    .execute();
}

export interface AccountWrite {
  email: string;
  kind?: 'user' | 'service';
  passwordHash?: string;
  disabled?: boolean;
  groups?: readonly string[];
}

/** Creates or updates the account with this email; fields left undefined keep their value. */
export async function upsertAccount(db: Db, account: AccountWrite): Promise<string> {
  const email = account.email.toLowerCase();
  const changes = {
    ...(account.kind !== undefined ? { kind: account.kind } : {}),
    ...(account.passwordHash !== undefined ? { password_hash: account.passwordHash } : {}),
    ...(account.disabled !== undefined ? { disabled: account.disabled } : {}),
  };
  const row = await db
    .insertInto('accounts')
    .values({
      id: randomUUID(),
      email,
      kind: account.kind ?? 'user',
      oidc_subject: null,
      password_hash: null,
      ...changes,
    })
    .onConflict((oc) => oc.column('email').doUpdateSet({ email, ...changes }))
    .returning('id')
    .executeTakeFirstOrThrow();
  if (account.groups !== undefined) await setMemberships(db, row.id, account.groups);
  return row.id;
}

export async function upsertResource(db: Db, resource: NormalizedResource, siteId: string): Promise<string> {
  const values = {
    name: resource.name,
    type: resource.type,
    address: resource.address,
    site_id: siteId,
    filters: sql<NormalizedResource['filters']>`${JSON.stringify(resource.filters)}::jsonb`,
    ip_stack: resource.ipStack,
  };
  const row = await db
    .insertInto('resources')
    .values({ id: randomUUID(), ...values })
    .onConflict((oc) => oc.column('name').doUpdateSet(values))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function ensurePolicy(db: Db, groupId: string, resourceId: string): Promise<string> {
  await db
    .insertInto('policies')
    .values({ id: randomUUID(), group_id: groupId, resource_id: resourceId })
    .onConflict((oc) => oc.columns(['group_id', 'resource_id']).doNothing())
    .execute();
  const row = await db
    .selectFrom('policies')
    .select('id')
    .where('group_id', '=', groupId)
    .where('resource_id', '=', resourceId)
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface ClientSettings {
  upstreamResolvers: string[];
  blockRules: BlockRule[];
  mappedRanges: MappedRanges | undefined;
}

export async function putSettings(db: Db, settings: NormalizedSettings): Promise<void> {
  const rows = Object.entries(settings)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ({ key, value: sql`${JSON.stringify(value)}::jsonb` }));
  if (rows.length === 0) return;
  // One statement, so clients never see a mix of old and new settings pushed between two writes.
  await db
    .insertInto('settings')
    .values(rows)
    .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
    .execute();
}

export async function getSettings(db: Db): Promise<ClientSettings> {
  const rows = await db.selectFrom('settings').select(['key', 'value']).execute();
  const map = new Map(rows.map((r) => [r.key, r.value]));
  return {
    upstreamResolvers: (map.get('upstreamResolvers') as string[] | undefined) ?? [],
    blockRules: (map.get('blockRules') as BlockRule[] | undefined) ?? [],
    mappedRanges: (map.get('mappedRanges') as MappedRanges | null | undefined) ?? undefined,
  };
}
