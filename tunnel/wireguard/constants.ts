/** Protocol constants of the WireGuard whitepaper (§5.4, §6.1). Times are milliseconds, like `now`. */

export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
export const LABEL_MAC1 = 'mac1----';
export const LABEL_COOKIE = 'cookie--';

export const KEY_LENGTH = 32;

/**
 * Message counters are 64-bit. They are kept as two unsigned 32-bit halves so that the limits below, which are far
 * beyond 2^53, compare exactly.
 */
export const REKEY_AFTER_MESSAGES_HI = 2 ** 28; // 2^60 = hi 2^28, lo 0
/** REJECT_AFTER_MESSAGES = 2^64 − 2^13 − 1: hi 0xffffffff, lo 0xffffdfff. */
export const REJECT_AFTER_MESSAGES_HI = 0xffffffff;
export const REJECT_AFTER_MESSAGES_LO = 0xffffdfff;

/** The protocol's timers. `Device` accepts overrides for tests and interop runs that need shorter intervals. */
export interface TimerConfig {
  /** REKEY_AFTER_TIME: the initiator of a session starts a new handshake when sending on one this old. */
  rekeyAfterTime: number;
  /** REJECT_AFTER_TIME: no packet is sent or accepted on a session this old. */
  rejectAfterTime: number;
  /** REKEY_ATTEMPT_TIME: how long handshake retries go on before giving up. */
  rekeyAttemptTime: number;
  /** REKEY_TIMEOUT: the wait for a handshake response before retrying. */
  rekeyTimeout: number;
  /** The retry wait gets a random jitter in [0, rekeyTimeoutJitterMax). */
  rekeyTimeoutJitterMax: number;
  /** KEEPALIVE_TIMEOUT: after receiving data and sending nothing for this long, send a keepalive. */
  keepaliveTimeout: number;
  /** COOKIE_REFRESH_TIME: lifetime of a received cookie and of the cookie secret. */
  cookieRefreshTime: number;
  /** Initiations from one peer closer together than this are dropped as a flood. */
  handshakeInitiationRate: number;
}

export const DEFAULT_TIMERS: Readonly<TimerConfig> = Object.freeze({
  rekeyAfterTime: 120_000,
  rejectAfterTime: 180_000,
  rekeyAttemptTime: 90_000,
  rekeyTimeout: 5_000,
  rekeyTimeoutJitterMax: 334,
  keepaliveTimeout: 10_000,
  cookieRefreshTime: 120_000,
  handshakeInitiationRate: 20,
});

/** How long the device counts as under load after the handshake rate last exceeded its threshold. */
export const UNDER_LOAD_AFTER_TIME = 1_000;

export const MESSAGE_INITIATION = 1;
export const MESSAGE_RESPONSE = 2;
export const MESSAGE_COOKIE_REPLY = 3;
export const MESSAGE_TRANSPORT = 4;

export const INITIATION_SIZE = 148;
export const RESPONSE_SIZE = 92;
export const COOKIE_REPLY_SIZE = 64;
/** Header (type, receiver, counter) plus the Poly1305 tag: the size of a keepalive. */
export const TRANSPORT_HEADER_SIZE = 16;
export const TAG_SIZE = 16;
export const TRANSPORT_MIN_SIZE = TRANSPORT_HEADER_SIZE + TAG_SIZE;
/** The largest IP packet (65535 bytes) padded to 16, plus header and tag. */
export const TRANSPORT_MAX_SIZE = TRANSPORT_MIN_SIZE + 65_536;
export const MAX_IP_PACKET = 65_535;
