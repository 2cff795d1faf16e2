// The TUN device and peer-credential addon. See native/README.md.
export { NativeAddonMissingError } from './addon.js';
export { peerCredentials, socketFd, type PeerCredentials } from './peercred.js';
export { UnsupportedPlatformError, type NativeRuntime } from './platform.js';
export { TunDevice, type PacketHandler, type TunErrorHandler, type TunOpenOptions, type TunStats } from './tun.js';
