/** WireGuard as a sans-IO library: see README.md for the API and how to drive it. */
export {
  Device,
  type DatagramResult,
  type DeviceOptions,
  type DeviceStats,
  type Dropped,
  type EncapsulateResult,
  type PeerConfig,
  type Transmit,
} from './device.js';
export type { DeviceEvent, DropReason, Peer, PeerStats } from './peer.js';
export type { Endpoint } from './cookie.js';
export { DEFAULT_TIMERS, type TimerConfig } from './constants.js';
export {
  encodeKey,
  generatePresharedKey,
  generatePrivateKey,
  parseKey,
  publicKeyOf,
  type KeyParseResult,
} from './keys.js';
export { seededRng, systemRng, type Rng } from './rng.js';
