import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-file.js';

/**
 * What the helper changed in the OS, written to `<state-dir>/state.json` *before* each change, so that the next start
 * after a crash (or `kill -9`) can undo exactly that. Only the helper reads it; it is still validated, because a
 * half-written or hand-edited file must not make the helper do something odd.
 */

const ResolvConfOriginal = z.discriminatedUnion('kind', [
  /** A regular file: its bytes are in `<state-dir>/<backupFile>`. */
  z.object({ kind: z.literal('file'), backupFile: z.string(), mode: z.number().int() }),
  /** A symlink: restored by pointing a new link at `target`; the bytes it showed are kept in the backup too. */
  z.object({ kind: z.literal('symlink'), target: z.string(), backupFile: z.string() }),
  /** There was no resolv.conf: restoring removes ours. */
  z.object({ kind: z.literal('absent') }),
]);
export type ResolvConfOriginal = z.infer<typeof ResolvConfOriginal>;

export const DnsRecord = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('resolv-conf'),
    path: z.string(),
    original: ResolvConfOriginal,
  }),
  z.object({ mode: z.literal('systemd-resolved'), link: z.string() }),
]);
export type DnsRecord = z.infer<typeof DnsRecord>;

export const RouteRecord = z.object({
  family: z.union([z.literal(4), z.literal(6)]),
  prefix: z.string(),
  dev: z.string(),
  table: z.number().int(),
});
export type RouteRecord = z.infer<typeof RouteRecord>;

export const RuleRecord = z.object({
  family: z.union([z.literal(4), z.literal(6)]),
  priority: z.number().int(),
  /** A routing table number, `main`, or `unreachable` (a rule that ends the lookup with ENETUNREACH). */
  table: z.union([z.number().int(), z.literal('main'), z.literal('unreachable')]),
  /** Only packets to this prefix; absent means every packet. */
  to: z.string().optional(),
});
export type RuleRecord = z.infer<typeof RuleRecord>;

export const OsState = z.object({
  version: z.literal(1),
  pid: z.number().int(),
  dns: DnsRecord.nullable(),
  routes: z.array(RouteRecord),
  rules: z.array(RuleRecord),
});
export type OsState = z.infer<typeof OsState>;

export type StateRead = { ok: true; state: OsState | undefined } | { ok: false; error: string };

/** The state file and the backups beside it. Every update is written atomically before the caller acts on it. */
export class StateFile {
  readonly path: string;
  private current: OsState;

  constructor(readonly dir: string) {
    this.path = join(dir, 'state.json');
    this.current = { version: 1, pid: process.pid, dns: null, routes: [], rules: [] };
  }

  /** The state a previous run left behind, or undefined when it exited cleanly (or never ran). */
  readPrevious(): StateRead {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, state: undefined };
      return { ok: false, error: `cannot read ${this.path}: ${(e as Error).message}` };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return { ok: false, error: `${this.path} is not JSON: ${(e as Error).message}` };
    }
    const parsed = OsState.safeParse(json);
    if (!parsed.success) return { ok: false, error: `${this.path} is invalid: ${z.prettifyError(parsed.error)}` };
    return { ok: true, state: parsed.data };
  }

  /** Takes over a crashed run's record, so recovery undoes it entry by entry (and records its progress). */
  adopt(previous: OsState): void {
    this.current = previous;
  }

  /** A state file that cannot be parsed cannot be undone: move it aside for a human, so start-up does not loop. */
  quarantine(): string {
    const aside = `${this.path}.unreadable-${Date.now()}`;
    renameSync(this.path, aside);
    return aside;
  }

  get state(): OsState {
    return this.current;
  }

  update(change: (state: OsState) => OsState): void {
    const next = { ...change(this.current), pid: process.pid };
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.path, `${JSON.stringify(next, null, 2)}\n`);
    this.current = next;
  }

  /** Removes the file when everything recorded has been undone (a clean disconnect or exit). */
  clearIfEmpty(): void {
    const { dns, routes, rules } = this.current;
    if (dns === null && routes.length === 0 && rules.length === 0) this.clear();
  }

  /** Nothing is left to undo: remove the file, so the next start has nothing to recover. */
  clear(): void {
    this.current = { version: 1, pid: process.pid, dns: null, routes: [], rules: [] };
    rmSync(this.path, { force: true });
  }

  backupPath(name: string): string {
    return join(this.dir, name);
  }

  writeBackup(name: string, data: Uint8Array): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.backupPath(name), data);
  }

  readBackup(name: string): Buffer {
    return readFileSync(this.backupPath(name));
  }

  removeBackup(name: string): void {
    rmSync(this.backupPath(name), { force: true });
  }
}
