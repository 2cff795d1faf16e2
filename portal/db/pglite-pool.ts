import type { PGlite } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';

/**
 * PGlite behind kysely's `PostgresPool` interface, so one dialect (kysely's own PostgresDialect) serves both engines.
 * Written here because the published PGlite dialects pin older PGlite majors or pull in a CLI toolchain; PGlite 0.5
 * already answers with `command` and `rowCount`, so the adapter is only a lock.
 *
 * PGlite is a single session: a transaction kysely opens with BEGIN must not interleave with other queries, so the
 * "pool" hands out its one connection to one holder at a time.
 */
export function pglitePool(db: PGlite): PostgresPool {
  let tail: Promise<void> = Promise.resolve();
  return {
    async connect(): Promise<PostgresPoolClient> {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const previous = tail;
      tail = previous.then(() => held);
      await previous;
      const client = {
        async query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
          const result = await db.query<R>(sql, [...parameters]);
          return {
            command: (result as { command?: string }).command as PostgresQueryResult<R>['command'],
            rowCount: result.affectedRows ?? result.rows.length,
            rows: result.rows,
          };
        },
        release,
      };
      return client as PostgresPoolClient;
    },
    async end(): Promise<void> {
      await tail;
    },
  };
}
