import { loadAddon, type NativeAddon } from './addon.js';

/**
 * Which operating systems have a backend. Each new backend (macOS utun, Windows wintun) is a C++ file behind
 * `native/src/tun_backend.h` plus its entry here; until then those systems get a clear error before the addon is
 * even loaded.
 */
const SUPPORTED: ReadonlySet<NodeJS.Platform> = new Set(['linux']);

export class UnsupportedPlatformError extends Error {
  readonly code = 'ERR_POSTERN_UNSUPPORTED_PLATFORM';
}

/** Throws UnsupportedPlatformError unless `platform` has a backend; `feature` names what was asked for. */
export function requireSupportedPlatform(platform: NodeJS.Platform, feature: string): void {
  if (!SUPPORTED.has(platform)) {
    throw new UnsupportedPlatformError(`${feature} is not supported on this OS yet (${platform}); only Linux is`);
  }
}

/** What TunDevice.open() and peerCredentials() need from the machine; tests replace it (other OS, missing build). */
export interface NativeRuntime {
  platform: NodeJS.Platform;
  loadAddon: () => NativeAddon;
}

export const defaultRuntime: NativeRuntime = { platform: process.platform, loadAddon: () => loadAddon() };
