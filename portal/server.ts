import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { pino, type Logger } from 'pino';
import { OidcUpstream, type OidcSettings } from './auth/oidc.js';
import { applyConfig } from './config/apply.js';
import type { LoadedConfig } from './config/file.js';
import { openStorage, type Storage } from './db/open.js';
import { DEFAULT_TIMINGS, Hub, type PortalTimings } from './engine/hub.js';
import { adminRoutes } from './http/admin-api.js';
import { signInRoutes } from './http/sign-in.js';
import { Bus } from './live/bus.js';
import { attachWebSockets } from './ws/sockets.js';

export interface PortalOptions {
  /** `pglite:./var/portal`, `pglite:memory:` or `postgres://…`. */
  database: string;
  /** Loopback port 0 in tests. */
  listen: { host: string; port: number };
  /** The URL browsers and IdPs reach this portal at; defaults to http://listen. */
  publicUrl?: string;
  adminToken?: string;
  /** Applied at start; errors abort the start. */
  config?: LoadedConfig;
  oidc?: OidcSettings;
  timings?: Partial<PortalTimings>;
  logger?: Logger;
  /** Tests: start PGlite from a dump instead of running initdb. */
  pgliteDump?: Blob;
}

export interface Portal {
  /** `http://host:port` actually listened on. */
  url: string;
  publicUrl: string;
  hub: Hub;
  storage: Storage;
  app: FastifyInstance;
  close(): Promise<void>;
}

export class ConfigError extends Error {
  constructor(readonly errors: string[]) {
    super(`invalid config:\n${errors.join('\n')}`);
  }
}

/** Opens the database, applies the config, and serves HTTP and both WebSockets. */
export async function startPortal(options: PortalOptions): Promise<Portal> {
  const log = options.logger ?? pino({ level: process.env.POSTERN_LOG_LEVEL ?? 'info' });
  const timings = { ...DEFAULT_TIMINGS, ...options.timings };
  const storage = await openStorage(options.database, { pgliteDump: options.pgliteDump });
  let app: FastifyInstance | undefined;
  let sockets: { close(): void } | undefined;
  let hub: Hub | undefined;
  try {
    if (options.config) {
      const errors = await applyConfig(storage.db, options.config);
      if (errors.length > 0) throw new ConfigError(errors);
    }
    hub = new Hub(storage, new Bus(storage, log), timings, log);
    await hub.start();
    app = Fastify({ loggerInstance: log as FastifyBaseLogger, bodyLimit: 1024 * 1024, trustProxy: false });
    // The sign-in form posts urlencoded; URLSearchParams is the whole parser needed.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    app.addHook('onSend', async (_req, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    });
    const db = storage.db;
    app.get('/healthz', async (_req, reply) => {
      await sql`select 1`.execute(db);
      return reply.send({ ok: true, engine: storage.engine });
    });
    // Known only after listen when the port is 0; the OIDC callback URL reads it then.
    const where = { publicUrl: options.publicUrl?.replace(/\/$/, '') ?? '' };
    const oidc = options.oidc
      ? new OidcUpstream(options.oidc, () => `${where.publicUrl}/sign-in/oidc/callback`)
      : undefined;
    signInRoutes(app, hub, oidc);
    adminRoutes(app, hub, options.adminToken);
    const address = await app.listen({ host: options.listen.host, port: options.listen.port });
    const url = address.replace('0.0.0.0', '127.0.0.1');
    where.publicUrl ||= url;
    const publicUrl = where.publicUrl;
    sockets = attachWebSockets(app.server, hub);
    await hub.changed();
    const started = { app, hub, sockets };
    return {
      url,
      publicUrl,
      hub,
      storage,
      app,
      async close() {
        started.sockets.close();
        started.hub.stop();
        await started.app.close();
        await started.hub.settled();
        await storage.close();
      },
    };
  } catch (err) {
    sockets?.close();
    hub?.stop();
    await app?.close();
    await storage.close();
    throw err;
  }
}
