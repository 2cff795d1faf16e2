import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import { DESKTOP_REDIRECT_URI, SignInQuery, TokenRequest, type TokenResponse } from '../../protocol/portal-http.js';
import type { OidcUpstream } from '../auth/oidc.js';
import { hashSecret, newSecret, pkceMatches, verifyPassword } from '../auth/secrets.js';
import { SignInThrottle } from '../auth/sign-in-throttle.js';
import type { Hub } from '../engine/hub.js';
import { setMemberships } from '../store/directory.js';
import { findClientSession, mintClientToken, revokeClientTokens } from '../store/sessions.js';
import { apiError, bearerToken } from './replies.js';
import { messagePage, signInPage } from './sign-in-page.js';

/** Only the desktop app's scheme and loopback listeners (RFC 8252 §7.3) may receive a code. */
export function isAllowedRedirect(uri: string): boolean {
  if (uri === DESKTOP_REDIRECT_URI) return true;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  return (
    url.protocol === 'http:' &&
    (url.hostname === '127.0.0.1' || url.hostname === '[::1]') &&
    url.port !== '' &&
    url.username === '' &&
    url.password === '' &&
    url.hash === ''
  );
}

const PasswordForm = z.object({
  request: z.string().min(1).max(128),
  email: z.string().max(320),
  password: z.string().max(1024),
});
const OidcStart = z.object({ request: z.string().min(1).max(128) });
const OidcCallback = z.object({ state: z.string().min(1).max(512) });

/**
 * The browser sign-in (`/sign-in`, local password or OIDC) ending in a redirect with a one-time code, and the
 * client API that turns the code into a client token.
 */
export function signInRoutes(app: FastifyInstance, hub: Hub, oidc: OidcUpstream | undefined): void {
  const db = hub.db;
  const ttl = hub.timings.signInTtlMs;
  const throttle = new SignInThrottle();

  app.get('/sign-in', async (req, reply) => {
    const query = SignInQuery.safeParse(req.query);
    if (!query.success) {
      const issue = query.error.issues[0];
      return html(
        reply,
        400,
        messagePage('Cannot sign in', `Bad sign-in request: ${issue?.path.join('.')}: ${issue?.message}`),
      );
    }
    // Never redirect to an address that failed the check: show the error here instead.
    if (!isAllowedRedirect(query.data.redirect_uri)) {
      return html(
        reply,
        400,
        messagePage(
          'Cannot sign in',
          'redirect_uri must be postern://auth/callback or a loopback http://127.0.0.1:PORT/ or http://[::1]:PORT/ address.',
        ),
      );
    }
    const id = randomUUID();
    await db
      .insertInto('sign_in_requests')
      .values({
        id,
        redirect_uri: query.data.redirect_uri,
        state: query.data.state,
        nonce: query.data.nonce,
        code_challenge: query.data.code_challenge,
        oidc_state: null,
        oidc_nonce: null,
        oidc_verifier: null,
        expires_at: new Date(Date.now() + ttl),
      })
      .execute();
    await db
      .deleteFrom('sign_in_requests')
      .where('expires_at', '<', sql<Date>`now()`)
      .execute();
    return html(reply, 200, signInPage({ requestId: id, oidcLabel: oidcLabel(oidc) }));
  });

  app.post('/sign-in/password', async (req, reply) => {
    const form = PasswordForm.safeParse(req.body);
    if (!form.success) return html(reply, 400, messagePage('Cannot sign in', 'Incomplete sign-in form.'));
    const request = await pendingRequest(form.data.request);
    if (!request) return expired(reply);
    const email = form.data.email.trim().toLowerCase();
    const gate = throttle.check(email, req.ip, Date.now());
    if (!gate.allowed) {
      req.log.warn({ email: form.data.email, ip: req.ip }, 'sign-in throttled');
      const minutes = Math.ceil(gate.retryAfterMs / 60_000);
      const page = messagePage(
        'Too many attempts',
        `Too many failed sign-ins for this account or from this address. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
      );
      return html(reply.header('retry-after', String(Math.ceil(gate.retryAfterMs / 1000))), 429, page);
    }
    const account = await db
      .selectFrom('accounts')
      .select(['id', 'password_hash', 'disabled'])
      .where('email', '=', email)
      .executeTakeFirst();
    const valid = await verifyPassword(form.data.password, account?.password_hash);
    if (!account || !valid || account.disabled) {
      throttle.failed(email, req.ip, Date.now());
      req.log.info({ email: form.data.email }, 'sign-in refused');
      const page = signInPage({
        requestId: request.id,
        email: form.data.email,
        error: 'Wrong email or password.',
        oidcLabel: oidcLabel(oidc),
      });
      return html(reply, 401, page);
    }
    throttle.succeeded(email);
    return finish(reply, request, account.id);
  });

  app.get('/sign-in/oidc', async (req, reply) => {
    const query = OidcStart.safeParse(req.query);
    if (!oidc || !query.success) return html(reply, 404, messagePage('Not found', 'Single sign-on is not configured.'));
    const request = await pendingRequest(query.data.request);
    if (!request) return expired(reply);
    let upstream;
    try {
      upstream = await oidc.authorizationUrl();
    } catch (err) {
      req.log.error({ err }, 'OIDC discovery failed');
      return html(
        reply,
        502,
        messagePage('Cannot sign in', 'The identity provider cannot be reached. Try again later.'),
      );
    }
    await db
      .updateTable('sign_in_requests')
      .set({ oidc_state: upstream.state, oidc_nonce: upstream.nonce, oidc_verifier: upstream.verifier })
      .where('id', '=', request.id)
      .execute();
    return reply.redirect(upstream.url, 302);
  });

  app.get('/sign-in/oidc/callback', async (req, reply) => {
    const query = OidcCallback.safeParse(req.query);
    if (!oidc || !query.success)
      return html(reply, 400, messagePage('Cannot sign in', 'Bad callback from the identity provider.'));
    const request = await db
      .selectFrom('sign_in_requests')
      .selectAll()
      .where('oidc_state', '=', query.data.state)
      .where('expires_at', '>', sql<Date>`now()`)
      .executeTakeFirst();
    if (!request?.oidc_nonce || !request.oidc_verifier) return expired(reply);
    let identity;
    try {
      const current = new URL(req.url, oidc.callbackUrl());
      identity = await oidc.complete(current, {
        state: query.data.state,
        nonce: request.oidc_nonce,
        verifier: request.oidc_verifier,
      });
    } catch (err) {
      req.log.warn({ err }, 'OIDC sign-in failed');
      return html(reply, 401, messagePage('Cannot sign in', 'The identity provider did not confirm the sign-in.'));
    }
    if ('error' in identity) return html(reply, 401, messagePage('Cannot sign in', identity.error));
    const accountId = await oidcAccount(identity);
    if (!accountId) return html(reply, 403, messagePage('Cannot sign in', 'This account is disabled.'));
    return finish(reply, request, accountId);
  });

  app.post('/api/client/token', async (req, reply) => {
    const body = TokenRequest.safeParse(req.body);
    if (!body.success) return apiError(reply, 400, 'invalid_request', body.error.issues[0]?.message ?? 'bad body');
    // Deleting first makes the code single-use even when two exchanges race.
    const code = await db
      .deleteFrom('auth_codes')
      .where('code_hash', '=', hashSecret(body.data.code))
      .returningAll()
      .executeTakeFirst();
    const valid =
      code !== undefined &&
      code.expires_at.getTime() > Date.now() &&
      code.redirect_uri === body.data.redirect_uri &&
      pkceMatches(body.data.code_verifier, code.code_challenge);
    if (!code || !valid)
      return apiError(reply, 400, 'invalid_grant', 'unknown, used or expired code, or wrong verifier');
    const account = await db
      .selectFrom('accounts')
      .select(['id', 'email', 'disabled'])
      .where('id', '=', code.account_id)
      .executeTakeFirst();
    if (!account || account.disabled) return apiError(reply, 400, 'invalid_grant', 'account disabled');
    const minted = await mintClientToken(db, account.id, hub.timings.clientTokenTtlMs);
    const response: TokenResponse = {
      token: minted.token,
      expiresAt: minted.expiresAt,
      account: { id: account.id, email: account.email },
      nonce: code.nonce,
    };
    return reply.header('cache-control', 'no-store').send(response);
  });

  app.post('/api/client/sign-out', async (req, reply) => {
    const token = bearerToken(req.headers.authorization);
    const session = token === undefined ? undefined : await findClientSession(db, token);
    if (!session) return apiError(reply, 401, 'unauthorized', 'unknown or expired client token');
    await revokeClientTokens(db, { tokenId: session.tokenId });
    await hub.changed();
    return reply.code(204).send();
  });

  async function pendingRequest(id: string) {
    return db
      .selectFrom('sign_in_requests')
      .selectAll()
      .where('id', '=', id)
      .where('expires_at', '>', sql<Date>`now()`)
      .executeTakeFirst();
  }

  /** Issues the one-time code and sends the browser back to the client. */
  async function finish(
    reply: FastifyReply,
    request: { id: string; redirect_uri: string; state: string; nonce: string; code_challenge: string },
    accountId: string,
  ) {
    const code = newSecret('pcode');
    await db.transaction().execute(async (tx) => {
      await tx.deleteFrom('sign_in_requests').where('id', '=', request.id).execute();
      await tx
        .insertInto('auth_codes')
        .values({
          code_hash: hashSecret(code),
          account_id: accountId,
          redirect_uri: request.redirect_uri,
          code_challenge: request.code_challenge,
          nonce: request.nonce,
          expires_at: new Date(Date.now() + Math.min(ttl, 120_000)),
        })
        .execute();
    });
    await db
      .deleteFrom('auth_codes')
      .where('expires_at', '<', sql<Date>`now()`)
      .execute();
    const target = new URL(request.redirect_uri);
    target.searchParams.set('code', code);
    target.searchParams.set('state', request.state);
    return reply.redirect(target.href, 303);
  }

  /** The account an IdP identity signs in as: by subject, else by email (then linked), else a new user. */
  async function oidcAccount(identity: { subject: string; email: string; groups: string[] | undefined }) {
    const account = await db.transaction().execute(async (tx) => {
      const found =
        (await tx.selectFrom('accounts').selectAll().where('oidc_subject', '=', identity.subject).executeTakeFirst()) ??
        (await tx.selectFrom('accounts').selectAll().where('email', '=', identity.email).executeTakeFirst());
      const row = found
        ? await tx
            .updateTable('accounts')
            .set({ oidc_subject: identity.subject })
            .where('id', '=', found.id)
            .returningAll()
            .executeTakeFirstOrThrow()
        : await tx
            .insertInto('accounts')
            .values({
              id: randomUUID(),
              email: identity.email,
              kind: 'user',
              password_hash: null,
              oidc_subject: identity.subject,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
      if (identity.groups !== undefined) await setMemberships(tx, row.id, identity.groups);
      return row;
    });
    if (identity.groups !== undefined) await hub.changed();
    return account.disabled ? undefined : account.id;
  }
}

function oidcLabel(oidc: OidcUpstream | undefined): string | undefined {
  return oidc ? `Sign in with ${oidc.settings.displayName ?? 'single sign-on'}` : undefined;
}

function html(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

function expired(reply: FastifyReply) {
  return html(
    reply,
    400,
    messagePage('Sign-in expired', 'This sign-in took too long or was already used. Start again from the app.'),
  );
}
