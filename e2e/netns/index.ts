export { BackgroundProcess, run } from './run.js';
export {
  Namespace,
  connect,
  netnsUnavailableReason,
  onTeardown,
  sweepStaleNamespaces,
  type VethOptions,
} from './namespace.js';
export { relayServer } from './relay.js';
