import { type FSWatcher, lstatSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { temporaryPath, writeAndSync } from '../os/atomic-file.js';
import type { DnsRecord, ResolvConfOriginal, StateFile } from '../os/state-file.js';
import type { DnsControl } from './dns-control.js';
import { isGeneratedByHelper, parseResolvConf, renderResolvConf } from './resolv-conf.js';

const BACKUP_FILE = 'resolv.conf.backup';

/**
 * DNS control by rewriting `/etc/resolv.conf` (hosts without systemd-resolved).
 *
 * A symlinked resolv.conf (NetworkManager's or resolvconf's file under /run) is *replaced* by a regular file, never
 * written through: the target belongs to the daemon that manages it, which keeps updating it while we are connected —
 * so reading the target stays the live source of the host's resolvers — and restoring is just pointing a new link at
 * the same target. A resolv.conf that is a mount point (a container's, or `ip netns exec`'s bind mount) cannot be
 * renamed over, so it is rewritten in place.
 *
 * Before touching anything, the original (bytes, mode, or link target) goes to a backup beside the state file and
 * the state file records it, so a crash is undone at the next start (`recoverResolvConf`). While active, external
 * rewrites (NetworkManager, dhclient) are noticed by watching the file and its directory plus a periodic check; the
 * new file becomes the original to restore, its nameservers the new host resolvers, and ours is written again.
 */
export class ResolvConfControl implements DnsControl {
  readonly mode = 'resolv-conf';
  private active:
    | { original: ResolvConfOriginal; keptLines: string[]; resolvers: string[]; sentinels: string[]; written: Buffer }
    | undefined;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private listener: (resolvers: string[]) => void = () => {};

  constructor(
    private readonly options: {
      path: string;
      state: StateFile;
      log: Logger;
      /** How often to re-check the file besides watching it. */
      checkIntervalMs?: number;
    },
  ) {}

  onHostResolversChanged(listener: (resolvers: string[]) => void): void {
    this.listener = listener;
  }

  async readHostResolvers(): Promise<string[]> {
    if (this.active) return this.active.resolvers;
    return parseResolvConf(readText(this.options.path)).nameservers;
  }

  async apply(sentinels: readonly string[]): Promise<void> {
    if (!this.active) this.captureOriginal();
    const active = this.active!;
    active.sentinels = [...sentinels];
    this.writeOurs();
    this.startWatching();
  }

  async restore(): Promise<void> {
    this.stopWatching();
    const record = this.options.state.state.dns;
    this.active = undefined;
    if (record?.mode !== 'resolv-conf') return;
    restoreResolvConf(record, this.options.state, this.options.log);
  }

  close(): void {
    this.stopWatching();
  }

  /** Compares the file with what we wrote and takes over an external rewrite. Called by the watchers and the timer. */
  check(): void {
    const active = this.active;
    if (!active) return;
    const { path, log } = this.options;
    const seen = inspect(path);
    if (seen.kind === 'file' && seen.bytes.equals(active.written)) return this.followSymlinkTarget();
    if (seen.kind === 'file' && isGeneratedByHelper(seen.bytes.toString())) {
      log.warn({ path }, 'resolv.conf holds another postern-written version; writing ours again');
      return this.writeOurs();
    }
    log.warn({ path, kind: seen.kind }, 'resolv.conf was changed by someone else; keeping it as the original');
    this.captureOriginal();
    this.writeOurs();
    this.startWatching();
    this.listener(this.active!.resolvers);
  }

  private captureOriginal(): void {
    const { path, state } = this.options;
    const seen = inspect(path);
    const text = seen.kind === 'absent' ? '' : seen.bytes.toString();
    const parsed = parseResolvConf(text);
    let original: ResolvConfOriginal;
    if (seen.kind === 'absent') original = { kind: 'absent' };
    else if (seen.kind === 'symlink') original = { kind: 'symlink', target: seen.target, backupFile: BACKUP_FILE };
    else original = { kind: 'file', backupFile: BACKUP_FILE, mode: seen.mode };
    if (seen.kind !== 'absent') state.writeBackup(BACKUP_FILE, seen.bytes);
    const record: DnsRecord = { mode: 'resolv-conf', path, original };
    state.update((s) => ({ ...s, dns: record }));
    this.active = {
      original,
      keptLines: parsed.keptLines,
      resolvers: parsed.nameservers,
      sentinels: this.active?.sentinels ?? [],
      written: Buffer.alloc(0),
    };
  }

  private writeOurs(): void {
    const active = this.active!;
    const bytes = Buffer.from(renderResolvConf(active.sentinels, active.keptLines));
    replaceFile(this.options.path, bytes, 0o644);
    active.written = bytes;
    // A rename gave the path a new inode: the file watcher must follow it.
    if (this.watchers.length > 0) this.startWatching();
  }

  /** With a symlinked original, the link target is still maintained by its owner: pick up its resolvers. */
  private followSymlinkTarget(): void {
    const active = this.active!;
    if (active.original.kind !== 'symlink') return;
    const target = resolve(dirname(this.options.path), active.original.target);
    const parsed = parseResolvConf(readText(target));
    if (sameList(parsed.nameservers, active.resolvers)) return;
    active.resolvers = parsed.nameservers;
    active.keptLines = parsed.keptLines;
    this.writeOurs();
    this.listener(active.resolvers);
  }

  private startWatching(): void {
    this.stopWatching();
    const { path, checkIntervalMs = 5000, log } = this.options;
    const schedule = () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.check(), 50);
    };
    const name = basename(path);
    for (const [target, filter] of [
      [path, undefined],
      [dirname(path), name],
    ] as const) {
      try {
        const watcher = watch(target, { persistent: false }, (_event, file) => {
          if (filter === undefined || file === filter) schedule();
        });
        watcher.on('error', (e) => log.debug({ err: e, target }, 'resolv.conf watcher failed; the timer still checks'));
        this.watchers.push(watcher);
      } catch (e) {
        log.debug({ err: e, target }, 'cannot watch; the timer still checks');
      }
    }
    this.timer = setInterval(() => this.check(), checkIntervalMs);
    this.timer.unref();
  }

  private stopWatching(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    clearInterval(this.timer);
    clearTimeout(this.debounce);
  }
}

/** Puts the original resolv.conf back if the file still holds ours, and forgets the record. Used by restore and crash recovery. */
export function restoreResolvConf(
  record: Extract<DnsRecord, { mode: 'resolv-conf' }>,
  state: StateFile,
  log: Logger,
): void {
  const { path, original } = record;
  const seen = inspect(path);
  if (seen.kind !== 'file' || !isGeneratedByHelper(seen.bytes.toString())) {
    // Someone replaced our file since (the OS after a crash, or the admin): theirs is newer than our backup.
    log.warn({ path }, 'resolv.conf no longer holds ours; leaving it as it is');
  } else if (original.kind === 'absent') {
    rmSync(path, { force: true });
  } else if (original.kind === 'symlink') {
    replaceWithSymlink(path, original.target, state.readBackup(original.backupFile));
  } else {
    replaceFile(path, state.readBackup(original.backupFile), original.mode);
  }
  if (original.kind !== 'absent') state.removeBackup(original.backupFile);
  state.update((s) => ({ ...s, dns: null }));
  log.info({ path, original: original.kind }, 'resolv.conf restored');
}

type Seen =
  | { kind: 'absent' }
  | { kind: 'symlink'; target: string; bytes: Buffer }
  | { kind: 'file'; mode: number; bytes: Buffer };

function inspect(path: string): Seen {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw e;
  }
  if (stat.isSymbolicLink()) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      bytes = Buffer.alloc(0); // a dangling link: nothing to read through it
    }
    return { kind: 'symlink', target: readlinkSync(path), bytes };
  }
  return { kind: 'file', mode: stat.mode & 0o7777, bytes: readFileSync(path) };
}

/**
 * Replaces `path` (file or symlink) with a regular file holding `bytes`: atomically by rename where possible, in
 * place where `path` is a mount point (rename then fails with EBUSY).
 */
function replaceFile(path: string, bytes: Uint8Array, mode: number): void {
  const tmp = temporaryPath(path);
  try {
    writeAndSync(tmp, bytes, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
    writeAndSync(path, bytes, mode);
  }
}

function replaceWithSymlink(path: string, target: string, bytesIfMountPoint: Uint8Array): void {
  const tmp = temporaryPath(path);
  rmSync(tmp, { force: true });
  try {
    symlinkSync(target, tmp);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
    writeAndSync(path, bytesIfMountPoint, 0o644);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
