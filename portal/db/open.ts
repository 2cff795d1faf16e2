import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { migrations } from './migrations.js';
import { pglitePool } from './pglite-pool.js';
import type { Database } from './schema.js';

/** An open, migrated database plus the engine's LISTEN, which the live-update bus needs. */
export interface Storage {
  db: Kysely<Database>;
  engine: 'pglite' | 'postgres';
  /** Calls `onPayload` for every NOTIFY on `channel` (from any instance, this one included). */
  listen(channel: string, onPayload: (payload: string) => void): Promise<void>;
  close(): Promise<void>;
}

export type DatabaseUrlError = { error: string };

/**
 * `pglite:./var/portal` (a directory), `pglite:memory:` (tests), or `postgres://…` / `postgresql://…`.
 * PGlite can also start from a dump (`loadDataDir`), which tests use to skip its slow first-time initdb.
 */
export async function openStorage(url: string, options: { pgliteDump?: Blob } = {}): Promise<Storage> {
  const storage = url.startsWith('pglite:')
    ? await openPglite(url.slice('pglite:'.length), options.pgliteDump)
    : /^postgres(ql)?:\/\//.test(url)
      ? openPostgres(url)
      : undefined;
  if (!storage) throw new Error(`database URL must start with pglite: or postgres://, got ${JSON.stringify(url)}`);
  try {
    await migrate(storage.db);
  } catch (err) {
    await storage.close();
    throw err;
  }
  return storage;
}

async function migrate(db: Kysely<Database>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider: migrations }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error });
  }
}

async function openPglite(path: string, dump: Blob | undefined): Promise<Storage> {
  const inMemory = path === 'memory:' || path === '';
  if (!inMemory) mkdirSync(path, { recursive: true });
  const pglite = await PGlite.create({
    ...(inMemory ? {} : { dataDir: path }),
    ...(dump ? { loadDataDir: dump } : {}),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: pglitePool(pglite) }) });
  return {
    db,
    engine: 'pglite',
    async listen(channel, onPayload) {
      await pglite.listen(channel, onPayload);
    },
    async close() {
      await db.destroy();
      await pglite.close();
    },
  };
}

function openPostgres(url: string): Storage {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // A failing idle client must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const listeners: ListeningClient[] = [];
  return {
    db,
    engine: 'postgres',
    async listen(channel, onPayload) {
      const listener = new ListeningClient(url, channel, onPayload);
      listeners.push(listener);
      await listener.start();
    },
    async close() {
      for (const l of listeners) await l.stop();
      await db.destroy();
    },
  };
}

/**
 * One dedicated connection doing LISTEN (a pooled connection would lose it). When it drops, it reconnects with
 * backoff and then reports an empty payload, so the bus resynchronises: notifications sent meanwhile are lost.
 */
class ListeningClient {
  #client: pg.Client | undefined;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly onPayload: (payload: string) => void,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (n) => {
      if (n.channel === this.channel) this.onPayload(n.payload ?? '');
    });
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.#client = client;
  }

  #lost(client: pg.Client): void {
    if (this.#stopped || this.#client !== client) return;
    this.#client = undefined;
    void client.end().catch(() => undefined);
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    this.#retry = setTimeout(() => {
      if (this.#stopped) return;
      this.start().then(
        () => this.onPayload(''),
        () => this.#scheduleRestart(),
      );
    }, 500);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#client?.end().catch(() => undefined);
  }
}
