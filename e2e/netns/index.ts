export { BackgroundProcess, run } from './run.js';
export { Namespace, connect, netnsUnavailableReason, sweepStaleNamespaces, type VethOptions } from './namespace.js';
