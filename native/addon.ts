import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { TunStats } from './tun.js';

/**
 * Loads the compiled addon (`native/build/Release/postern_native.node`, built by `npm ci` through node-gyp) and
 * types what it exports. Loading is lazy — on the first `TunDevice.open()` or `peerCredentials()` — so importing
 * `native/` works on a machine without the build, and the error says how to build it.
 */

/** What the C++ `TunHandle` constructor takes; the wrapper validates it first. */
export interface NativeTunOptions {
  /** Exact name or a template with one `%d`; empty lets the OS choose. */
  name: string;
  mtu: number;
  maxBatchPackets: number;
  maxPendingBatches: number;
}

/** Called on the JavaScript thread with one batch (packets end to end in `slab`), or once with a fatal error. */
export type NativeReadCallback = (
  error: NodeJS.ErrnoException | null,
  slab?: ArrayBuffer,
  lengths?: Uint32Array,
) => void;

/** As TunStats, with an empty `lastWriteError` when there was none. */
export type NativeTunStats = Omit<TunStats, 'lastWriteError'> & { lastWriteError: string };

/** The C++ object (native/src/tun_device.cc). Starts not reading and not holding the event loop. */
export interface NativeTunHandle {
  readonly name: string;
  readonly ifindex: number;
  write(packets: readonly Uint8Array[]): number;
  writePacket(packet: Uint8Array): boolean;
  setReading(reading: boolean): void;
  setRef(ref: boolean): void;
  stats(): NativeTunStats;
  close(): void;
}

export interface NativeAddon {
  TunHandle: new (options: NativeTunOptions, callback: NativeReadCallback) => NativeTunHandle;
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
}

export class NativeAddonMissingError extends Error {
  readonly code = 'ERR_POSTERN_NATIVE_MISSING';
}

const ADDON = 'build/Release/postern_native.node';

/**
 * Where the addon may be: next to the sources (`native/*.ts`, run by vitest) or, from the compiled
 * `dist/native/*.js` the daemons run, in `native/` at the package root.
 */
export const ADDON_CANDIDATES: readonly string[] = [
  fileURLToPath(new URL(`./${ADDON}`, import.meta.url)),
  fileURLToPath(new URL(`../../native/${ADDON}`, import.meta.url)),
];

let loaded: NativeAddon | undefined;

/** The addon, loaded once from the first candidate path that exists. */
export function loadAddon(candidates: readonly string[] = ADDON_CANDIDATES): NativeAddon {
  if (loaded && candidates === ADDON_CANDIDATES) return loaded;
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new NativeAddonMissingError(
      `the Postern native addon is not built (looked for ${candidates.join(', ')}); ` +
        'build it with `npm ci` or `npx node-gyp rebuild --directory=native`',
    );
  }
  let exports: unknown;
  try {
    exports = createRequire(import.meta.url)(path);
  } catch (cause) {
    throw new NativeAddonMissingError(
      `the Postern native addon at ${path} does not load (${(cause as Error).message}); ` +
        'rebuild it for this Node.js with `npx node-gyp rebuild --directory=native`',
      { cause },
    );
  }
  const addon = exports as Partial<NativeAddon>;
  if (typeof addon.TunHandle !== 'function' || typeof addon.peerCredentials !== 'function') {
    throw new NativeAddonMissingError(`${path} is not the Postern native addon (unexpected exports)`);
  }
  if (candidates === ADDON_CANDIDATES) loaded = addon as NativeAddon;
  return addon as NativeAddon;
}

/** A native system error with a sentence of context in front, keeping `code`, `errno` and `syscall`. */
export function withContext(context: string, error: unknown): Error {
  if (!(error instanceof Error)) return new Error(`${context}: ${String(error)}`);
  const wrapped: NodeJS.ErrnoException = new Error(`${context}: ${error.message}`, { cause: error });
  const { code, errno, syscall } = error as NodeJS.ErrnoException;
  if (code !== undefined) wrapped.code = code;
  if (errno !== undefined) wrapped.errno = errno;
  if (syscall !== undefined) wrapped.syscall = syscall;
  return wrapped;
}
