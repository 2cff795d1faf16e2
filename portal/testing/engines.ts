import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { migrations } from '../db/migrations.js';
import { pglitePool } from '../db/pglite-pool.js';

const run = promisify(execFile);

/** A database engine the portal tests run against: each `database()` is a fresh, empty database. */
export interface TestEngine {
  name: 'pglite' | 'postgres';
  database(): Promise<{ url: string; pgliteDump?: Blob }>;
  stop(): Promise<void>;
}

let migratedDump: Promise<Blob> | undefined;

/**
 * PGlite in memory, started from a dump of a migrated database: PGlite's own initdb takes seconds, loading a dump
 * half a second.
 */
export function pgliteEngine(): TestEngine {
  migratedDump ??= (async () => {
    const db = await PGlite.create();
    const kysely = new Kysely({ dialect: new PostgresDialect({ pool: pglitePool(db) }) });
    const { error } = await new Migrator({ db: kysely, provider: migrations }).migrateToLatest();
    if (error) throw error;
    const dump = await db.dumpDataDir('none');
    await db.close();
    return dump;
  })();
  return {
    name: 'pglite',
    async database() {
      return { url: 'pglite:memory:', pgliteDump: await migratedDump };
    },
    async stop() {},
  };
}

/** Why a private PostgreSQL cluster cannot run here, or undefined when it can. */
export function postgresUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'PostgreSQL tests need root (they run the server as the postgres user)';
  if (!postgresBin()) return 'PostgreSQL server binaries not found (apt-get install postgresql)';
  return undefined;
}

function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin');
}

/**
 * A private PostgreSQL cluster owned by the postgres user in a temp dir, listening only on a Unix socket there (no
 * TCP port, so parallel test files cannot collide). Never touches the system's own cluster.
 */
export async function postgresEngine(): Promise<TestEngine> {
  const bin = postgresBin();
  if (!bin) throw new Error('no PostgreSQL binaries');
  const dir = mkdtempSync(join(tmpdir(), 'postern-pg-'));
  const { uid, gid } = await postgresUser();
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const port = 20000 + Math.floor(Math.random() * 40000);
  const asPostgres = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]);
  try {
    await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await asPostgres('pg_ctl', [
      '-D',
      data,
      '-w',
      '-l',
      join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses= -c fsync=off -c max_connections=200`,
      'start',
    ]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const urlFor = (name: string) => `postgres://postgres@/${name}?host=${encodeURIComponent(dir)}&port=${port}`;
  let n = 0;
  return {
    name: 'postgres',
    async database() {
      const name = `t${process.pid}_${n++}`;
      const admin = new pg.Client({ connectionString: urlFor('postgres') });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      return { url: urlFor(name) };
    },
    async stop() {
      await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    run('id', ['-u', 'postgres']),
    run('id', ['-g', 'postgres']),
  ]);
  return { uid: Number(uid), gid: Number(gid) };
}
