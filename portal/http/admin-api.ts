import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import {
  AccountInput,
  AccountPatch,
  GroupInput,
  MintTokenRequest,
  PolicyInput,
  ResourceInput,
  SettingsInput,
  SiteInput,
  type AdminAccount,
  type AdminAuthorization,
  type AdminDevice,
  type AdminGateway,
  type AdminPolicy,
  type AdminResource,
} from '../../protocol/portal-http.js';
import { hashPassword, hashSecret, newSecret, secretsEqual } from '../auth/secrets.js';
import { normalizeResource, normalizeSettings, type Issue } from '../config/normalize.js';
import type { Hub } from '../engine/hub.js';
import {
  ensureGroups,
  ensurePolicy,
  getSettings,
  putSettings,
  setMemberships,
  upsertResource,
} from '../store/directory.js';
import { mintClientToken, revokeClientTokens } from '../store/sessions.js';
import { apiError, bearerToken } from './replies.js';

const IdParams = z.object({ id: z.string() });
type Reply = FastifyReply;

/**
 * The admin REST API under `/api/admin`, behind the admin token. Bodies are the `protocol/portal-http.ts` schemas;
 * references are by name, like the YAML file. Every write tells all portal instances (live updates).
 */
export function adminRoutes(app: FastifyInstance, hub: Hub, adminToken: string | undefined): void {
  const db = hub.db;

  app.register(
    async (admin) => {
      admin.addHook('onRequest', async (req, reply) => {
        const token = bearerToken(req.headers.authorization);
        if (adminToken === undefined) return apiError(reply, 401, 'unauthorized', 'no admin token is configured');
        if (token === undefined || !secretsEqual(token, adminToken)) {
          return apiError(reply, 401, 'unauthorized', 'a valid admin token is required');
        }
      });

      // ---- sites and gateway tokens ----
      admin.get('/sites', () => db.selectFrom('sites').select(['id', 'name']).orderBy('name').execute());
      admin.post('/sites', async (req, reply) => {
        const body = parse(SiteInput, req.body, reply);
        if (!body) return reply;
        return created(
          reply,
          await insertUnique(reply, () =>
            db
              .insertInto('sites')
              .values({ id: randomUUID(), ...body })
              .returning(['id', 'name'])
              .executeTakeFirstOrThrow(),
          ),
        );
      });
      admin.patch('/sites/:id', async (req, reply) => {
        const body = parse(SiteInput, req.body, reply);
        const { id } = params(req);
        if (!body) return reply;
        const row = await insertUnique(reply, () =>
          db.updateTable('sites').set(body).where('id', '=', id).returning(['id', 'name']).executeTakeFirst(),
        );
        return found(reply, row);
      });
      admin.delete('/sites/:id', async (req, reply) => {
        const { id } = params(req);
        const used = await db.selectFrom('resources').select('name').where('site_id', '=', id).executeTakeFirst();
        if (used) return apiError(reply, 409, 'conflict', `resource "${used.name}" still uses this site`);
        return deleted(reply, await db.deleteFrom('sites').where('id', '=', id).executeTakeFirst());
      });
      admin.get('/sites/:id/gateway-tokens', async (req) =>
        (
          await db
            .selectFrom('gateway_tokens')
            .select(['id', 'site_id', 'created_at'])
            .where('site_id', '=', params(req).id)
            .execute()
        ).map((t) => ({ id: t.id, siteId: t.site_id, createdAt: t.created_at.getTime() })),
      );
      admin.post('/sites/:id/gateway-tokens', async (req, reply) => {
        const site = await db.selectFrom('sites').select('id').where('id', '=', params(req).id).executeTakeFirst();
        if (!site) return apiError(reply, 404, 'not_found', 'no such site');
        const token = newSecret('pgt');
        const id = randomUUID();
        await db
          .insertInto('gateway_tokens')
          .values({ id, site_id: site.id, token_hash: hashSecret(token) })
          .execute();
        return created(reply, { id, token });
      });
      admin.delete('/gateway-tokens/:id', async (req, reply) =>
        deleted(reply, await db.deleteFrom('gateway_tokens').where('id', '=', params(req).id).executeTakeFirst()),
      );

      // ---- groups ----
      admin.get('/groups', () => db.selectFrom('groups').select(['id', 'name']).orderBy('name').execute());
      admin.post('/groups', async (req, reply) => {
        const body = parse(GroupInput, req.body, reply);
        if (!body) return reply;
        return created(
          reply,
          await insertUnique(reply, () =>
            db
              .insertInto('groups')
              .values({ id: randomUUID(), ...body })
              .returning(['id', 'name'])
              .executeTakeFirstOrThrow(),
          ),
        );
      });
      admin.patch('/groups/:id', async (req, reply) => {
        const body = parse(GroupInput, req.body, reply);
        if (!body) return reply;
        const row = await insertUnique(reply, () =>
          db
            .updateTable('groups')
            .set(body)
            .where('id', '=', params(req).id)
            .returning(['id', 'name'])
            .executeTakeFirst(),
        );
        return found(reply, row);
      });
      admin.delete('/groups/:id', async (req, reply) =>
        deleted(reply, await db.deleteFrom('groups').where('id', '=', params(req).id).executeTakeFirst()),
      );

      // ---- accounts and their sessions ----
      admin.get('/accounts', async () => accounts());
      admin.get('/accounts/:id', async (req, reply) => found(reply, (await accounts(params(req).id))[0]));
      admin.post('/accounts', async (req, reply) => {
        const body = parse(AccountInput, req.body, reply);
        if (!body) return reply;
        const exists = await db
          .selectFrom('accounts')
          .select('id')
          .where('email', '=', body.email.toLowerCase())
          .executeTakeFirst();
        if (exists) return apiError(reply, 409, 'conflict', 'an account with this email exists');
        const id = randomUUID();
        await db.transaction().execute(async (tx) => {
          await tx
            .insertInto('accounts')
            .values({
              id,
              email: body.email.toLowerCase(),
              kind: body.kind ?? 'user',
              password_hash: body.password ? await hashPassword(body.password) : null,
              oidc_subject: null,
              disabled: body.disabled ?? false,
            })
            .execute();
          await setMemberships(tx, id, body.groups ?? []);
        });
        return created(reply, (await accounts(id))[0]);
      });
      admin.patch('/accounts/:id', async (req, reply) => {
        const body = parse(AccountPatch, req.body, reply);
        const { id } = params(req);
        if (!body) return reply;
        const passwordHash = body.password ? await hashPassword(body.password) : undefined;
        const ok = await insertUnique(reply, () =>
          db.transaction().execute(async (tx) => {
            const row = await tx
              .updateTable('accounts')
              .set({
                ...(body.email !== undefined ? { email: body.email.toLowerCase() } : {}),
                ...(body.kind !== undefined ? { kind: body.kind } : {}),
                ...(passwordHash !== undefined ? { password_hash: passwordHash } : {}),
                ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
              })
              .where('id', '=', id)
              .returning('id')
              .executeTakeFirst();
            if (row && body.groups !== undefined) await setMemberships(tx, id, body.groups);
            return row;
          }),
        );
        if (reply.sent) return reply;
        await hub.changed();
        return found(reply, ok && (await accounts(id))[0]);
      });
      admin.delete('/accounts/:id', async (req, reply) =>
        deleted(reply, await db.deleteFrom('accounts').where('id', '=', params(req).id).executeTakeFirst()),
      );
      admin.post('/accounts/:id/tokens', async (req, reply) => {
        const body = parse(MintTokenRequest, req.body ?? {}, reply);
        if (!body) return reply;
        const account = await db
          .selectFrom('accounts')
          .select('id')
          .where('id', '=', params(req).id)
          .executeTakeFirst();
        if (!account) return apiError(reply, 404, 'not_found', 'no such account');
        const ttlMs = body.ttlSeconds !== undefined ? body.ttlSeconds * 1000 : hub.timings.clientTokenTtlMs;
        return created(reply, await mintClientToken(db, account.id, ttlMs));
      });
      admin.get('/accounts/:id/tokens', async (req) =>
        (
          await db
            .selectFrom('client_tokens')
            .selectAll()
            .where('account_id', '=', params(req).id)
            .orderBy('created_at')
            .execute()
        ).map((t) => ({
          id: t.id,
          accountId: t.account_id,
          createdAt: t.created_at.getTime(),
          expiresAt: t.expires_at.getTime(),
          revoked: t.revoked_at !== null,
        })),
      );
      admin.post('/accounts/:id/revoke-sessions', async (req, reply) => {
        const revoked = await revokeClientTokens(db, { accountId: params(req).id });
        await hub.changed();
        return reply.send({ revoked });
      });
      admin.delete('/client-tokens/:id', async (req, reply) => {
        const revoked = await revokeClientTokens(db, { tokenId: params(req).id });
        if (revoked === 0) return apiError(reply, 404, 'not_found', 'no such live token');
        await hub.changed();
        return reply.code(204).send();
      });

      // ---- resources ----
      admin.get('/resources', async () => resources());
      admin.get('/resources/:id', async (req, reply) => found(reply, (await resources(params(req).id))[0]));
      admin.post('/resources', async (req, reply) => writeResource(req, reply, undefined));
      admin.put('/resources/:id', async (req, reply) => writeResource(req, reply, params(req).id));
      admin.delete('/resources/:id', async (req, reply) =>
        deleted(reply, await db.deleteFrom('resources').where('id', '=', params(req).id).executeTakeFirst()),
      );

      // ---- policies ----
      admin.get('/policies', async () => policies());
      admin.post('/policies', async (req, reply) => {
        const body = parse(PolicyInput, req.body, reply);
        if (!body) return reply;
        const resource = await db
          .selectFrom('resources')
          .select('id')
          .where('name', '=', body.resource)
          .executeTakeFirst();
        if (!resource) return apiError(reply, 400, 'invalid', `resource: no resource named "${body.resource}"`);
        const group = (await ensureGroups(db, [body.group])).get(body.group);
        if (!group) return apiError(reply, 500, 'internal', 'group not created');
        const id = await ensurePolicy(db, group, resource.id);
        await hub.changed();
        return created(reply, (await policies(id))[0]);
      });
      admin.delete('/policies/:id', async (req, reply) =>
        deleted(reply, await db.deleteFrom('policies').where('id', '=', params(req).id).executeTakeFirst()),
      );

      // ---- settings pushed to clients ----
      admin.get('/settings', () => getSettings(db));
      admin.put('/settings', async (req, reply) => {
        const body = parse(SettingsInput, req.body, reply);
        if (!body) return reply;
        const settings = normalizeSettings(body);
        if (settings.issues.length > 0) return invalid(reply, settings.issues);
        await putSettings(db, settings.value);
        await hub.changed();
        return getSettings(db);
      });

      // ---- what is connected ----
      admin.get('/devices', async (): Promise<AdminDevice[]> =>
        (await db.selectFrom('devices').selectAll().orderBy('created_at').execute()).map((d) => ({
          id: d.id,
          accountId: d.account_id,
          name: d.name,
          publicKey: d.public_key,
          os: d.os,
          version: d.version,
          tunnel: { ipv4: d.ipv4, ipv6: d.ipv6 },
          lastSeenAt: d.last_seen_at.getTime(),
        })),
      );
      admin.delete('/devices/:id', async (req, reply) =>
        deleted(reply, await db.deleteFrom('devices').where('id', '=', params(req).id).executeTakeFirst()),
      );
      admin.get('/gateways', async (): Promise<AdminGateway[]> => {
        const staleMs = 3 * hub.timings.heartbeatMs;
        const rows = await db
          .selectFrom('gateways')
          .selectAll()
          .select(
            sql<boolean>`connection_id is not null and last_seen_at > now() - make_interval(secs => ${staleMs / 1000})`.as(
              'online',
            ),
          )
          .orderBy('name')
          .execute();
        return rows.map((g) => ({
          id: g.id,
          siteId: g.site_id,
          name: g.name,
          publicKey: g.public_key,
          endpoint: { host: g.endpoint_host, port: g.endpoint_port },
          tunnel: { ipv4: g.ipv4, ipv6: g.ipv6 },
          online: g.online,
        }));
      });
      admin.get('/authorizations', async (): Promise<AdminAuthorization[]> =>
        (
          await db
            .selectFrom('authorizations')
            .selectAll()
            .where('expires_at', '>', sql<Date>`now()`)
            .orderBy('created_at')
            .execute()
        ).map((a) => ({
          id: a.id,
          deviceId: a.device_id,
          accountId: a.account_id,
          resourceId: a.resource_id,
          gatewayId: a.gateway_id,
          expiresAt: a.expires_at.getTime(),
        })),
      );
    },
    { prefix: '/api/admin' },
  );

  async function writeResource(req: FastifyRequest, reply: Reply, id: string | undefined) {
    const body = parse(ResourceInput, req.body, reply);
    if (!body) return reply;
    const normalized = normalizeResource(body);
    if (!normalized.value) return invalid(reply, normalized.issues);
    const site = await db.selectFrom('sites').select('id').where('name', '=', body.site).executeTakeFirst();
    if (!site) return invalid(reply, [{ path: ['site'], message: `no site named "${body.site}"` }]);
    const sameName = await db.selectFrom('resources').select('id').where('name', '=', body.name).executeTakeFirst();
    if (sameName && sameName.id !== id) return apiError(reply, 409, 'conflict', 'a resource with this name exists');
    if (id !== undefined) {
      const existing = await db.selectFrom('resources').select('id').where('id', '=', id).executeTakeFirst();
      if (!existing) return apiError(reply, 404, 'not_found', 'no such resource');
      await db.updateTable('resources').set({ name: body.name }).where('id', '=', id).execute();
    }
    const resourceId = await upsertResource(db, normalized.value, site.id);
    await hub.changed();
    const [row] = await resources(resourceId);
    return id === undefined ? created(reply, row) : reply.send(row);
  }

  async function accounts(id?: string): Promise<AdminAccount[]> {
    let query = db.selectFrom('accounts').selectAll().orderBy('email');
    if (id !== undefined) query = query.where('id', '=', id);
    const rows = await query.execute();
    const memberships = await db
      .selectFrom('memberships')
      .innerJoin('groups', 'groups.id', 'memberships.group_id')
      .select(['memberships.account_id', 'groups.name'])
      .execute();
    return rows.map((a) => ({
      id: a.id,
      email: a.email,
      kind: a.kind,
      groups: memberships
        .filter((m) => m.account_id === a.id)
        .map((m) => m.name)
        .sort(),
      disabled: a.disabled,
      hasPassword: a.password_hash !== null,
    }));
  }

  async function resources(id?: string): Promise<AdminResource[]> {
    let query = db
      .selectFrom('resources')
      .innerJoin('sites', 'sites.id', 'resources.site_id')
      .selectAll('resources')
      .select('sites.name as site_name')
      .orderBy('resources.name');
    if (id !== undefined) query = query.where('resources.id', '=', id);
    return (await query.execute()).map((r) => ({
      id: r.id,
      name: r.name,
      type: r.type,
      address: r.address,
      site: { id: r.site_id, name: r.site_name },
      filters: r.filters,
      ipStack: r.ip_stack,
    }));
  }

  async function policies(id?: string): Promise<AdminPolicy[]> {
    let query = db
      .selectFrom('policies')
      .innerJoin('groups', 'groups.id', 'policies.group_id')
      .innerJoin('resources', 'resources.id', 'policies.resource_id')
      .select([
        'policies.id',
        'groups.id as group_id',
        'groups.name as group_name',
        'resources.id as resource_id',
        'resources.name as resource_name',
      ])
      .orderBy('groups.name');
    if (id !== undefined) query = query.where('policies.id', '=', id);
    return (await query.execute()).map((p) => ({
      id: p.id,
      group: { id: p.group_id, name: p.group_name },
      resource: { id: p.resource_id, name: p.resource_name },
    }));
  }

  /** 404 or 204, and a change notice for anything actually deleted. */
  async function deleted(reply: Reply, result: { numDeletedRows: bigint }) {
    if (result.numDeletedRows === 0n) return apiError(reply, 404, 'not_found', 'not found');
    await hub.changed();
    return reply.code(204).send();
  }

  async function created(reply: Reply, body: unknown) {
    if (reply.sent) return reply;
    await hub.changed();
    return reply.code(201).send(body);
  }
}

function params(req: FastifyRequest): { id: string } {
  return IdParams.parse(req.params);
}

function found(reply: Reply, row: unknown) {
  if (reply.sent) return reply;
  return row === undefined ? apiError(reply, 404, 'not_found', 'not found') : reply.send(row);
}

function parse<T>(schema: z.ZodType<T>, body: unknown, reply: Reply): T | undefined {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  void invalid(
    reply,
    result.error.issues.map((i) => ({
      path: i.path.filter((p): p is string | number => typeof p !== 'symbol'),
      message: i.message,
    })),
  );
  return undefined;
}

function invalid(reply: Reply, issues: Issue[]) {
  return apiError(reply, 400, 'invalid', issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
}

/** Runs a write; a unique-constraint violation becomes 409 (and `undefined`). */
async function insertUnique<T>(reply: Reply, write: () => Promise<T>): Promise<T | undefined> {
  try {
    return await write();
  } catch (err) {
    if ((err as { code?: string }).code === '23505') {
      await apiError(reply, 409, 'conflict', 'the name is taken');
      return undefined;
    }
    throw err;
  }
}
