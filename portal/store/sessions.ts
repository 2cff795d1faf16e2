import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { hashSecret, newSecret } from '../auth/secrets.js';
import type { Db } from './directory.js';

/** Client tokens: opaque, SHA-256 at rest, expiring, revocable. */

export interface ClientSession {
  tokenId: string;
  accountId: string;
  email: string;
  expiresAt: number;
}

export async function mintClientToken(
  db: Db,
  accountId: string,
  ttlMs: number,
): Promise<{ id: string; token: string; expiresAt: number }> {
  const token = newSecret('pct');
  const expiresAt = Date.now() + ttlMs;
  const id = randomUUID();
  await db
    .insertInto('client_tokens')
    .values({
      id,
      account_id: accountId,
      token_hash: hashSecret(token),
      expires_at: new Date(expiresAt),
      revoked_at: null,
    })
    .execute();
  return { id, token, expiresAt };
}

/** The live session a bearer token stands for: known, not revoked, not expired, account enabled. */
export async function findClientSession(db: Db, token: string): Promise<ClientSession | undefined> {
  return sessionWhere(db, 'client_tokens.token_hash', hashSecret(token));
}

export async function clientSessionById(db: Db, tokenId: string): Promise<ClientSession | undefined> {
  return sessionWhere(db, 'client_tokens.id', tokenId);
}

async function sessionWhere(
  db: Db,
  column: 'client_tokens.token_hash' | 'client_tokens.id',
  value: string,
): Promise<ClientSession | undefined> {
  const row = await db
    .selectFrom('client_tokens')
    .innerJoin('accounts', 'accounts.id', 'client_tokens.account_id')
    .select(['client_tokens.id', 'client_tokens.account_id', 'client_tokens.expires_at', 'accounts.email'])
    .where(column, '=', value)
    .where('client_tokens.revoked_at', 'is', null)
    .where('client_tokens.expires_at', '>', sql<Date>`now()`)
    .where('accounts.disabled', '=', false)
    .executeTakeFirst();
  if (!row) return undefined;
  return { tokenId: row.id, accountId: row.account_id, email: row.email, expiresAt: row.expires_at.getTime() };
}

export async function revokeClientTokens(db: Db, where: { accountId: string } | { tokenId: string }): Promise<number> {
  const query = db
    .updateTable('client_tokens')
    .set({ revoked_at: sql<Date>`now()` })
    .where('revoked_at', 'is', null);
  const result = await (
    'accountId' in where ? query.where('account_id', '=', where.accountId) : query.where('id', '=', where.tokenId)
  ).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The site a gateway token belongs to, and the token's id (so a deleted token can close its sockets). */
export async function findGatewayToken(
  db: Db,
  token: string,
): Promise<{ tokenId: string; siteId: string } | undefined> {
  const row = await db
    .selectFrom('gateway_tokens')
    .select(['id', 'site_id'])
    .where('token_hash', '=', hashSecret(token))
    .executeTakeFirst();
  return row && { tokenId: row.id, siteId: row.site_id };
}
