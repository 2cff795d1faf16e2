/**
 * tunnel/client — the client's sans-IO data plane (`ClientState`), driven by the helper daemon. See README.md.
 */
export {
  ClientState,
  DEFAULT_LIMITS,
  type ClientLimits,
  type ClientStateOptions,
  type ClientStats,
  type Transmit,
  type UpstreamQuery,
  type UpstreamResult,
} from './client-state.js';
export type { NatState } from './dns-resource-nat.js';
export type { ClientEvent, GatewayView, MappingView, ResourceStatus, SentinelView } from './events.js';
export type { StubAction } from './stub-resolver.js';
export { ADDRESSES_PER_FAMILY, DEFAULT_MAX_DOMAINS } from './mapped-ips.js';
