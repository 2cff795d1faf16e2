export { BackgroundProcess, run } from './run.js';
export {
  Namespace,
  connect,
  netnsUnavailableReason,
  onTeardown,
  sweepStaleNamespaces,
  type VethOptions,
} from './namespace.js';
