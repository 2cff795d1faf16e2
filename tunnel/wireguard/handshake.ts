/**
 * The Noise_IKpsk2 handshake of WireGuard (whitepaper §5.4.2–5.4.5) as pure functions: building and consuming the
 * initiation and the response, and deriving the transport keys. MAC1/MAC2 are added and checked in `cookie.ts`.
 */
import type { KeyObject } from 'node:crypto';
import {
  CONSTRUCTION,
  IDENTIFIER,
  INITIATION_SIZE,
  KEY_LENGTH,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  RESPONSE_SIZE,
} from './constants.js';
import { dh, hash, kdf, open, publicKeyBytes, seal, x25519PrivateKey, x25519PublicKey } from './crypto.js';
import { tai64n } from './tai64n.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

/** Ci = HASH(CONSTRUCTION), the initial chaining key. */
export const INITIAL_CHAINING_KEY: Uint8Array = hash(utf8(CONSTRUCTION));
/** Hi = HASH(Ci ‖ IDENTIFIER), the initial hash. */
export const INITIAL_HASH: Uint8Array = hash(INITIAL_CHAINING_KEY, utf8(IDENTIFIER));

const EMPTY = new Uint8Array(0);

/** Byte offsets of the handshake messages (whitepaper §5.4.2, §5.4.3). */
export const Initiation = { sender: 4, ephemeral: 8, static: 40, timestamp: 88, mac1: 116, mac2: 132 } as const;
export const Response = { sender: 4, receiver: 8, ephemeral: 12, empty: 44, mac1: 60, mac2: 76 } as const;

/** Our own static key pair. */
export interface LocalIdentity {
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
  /** HASH(Hi ‖ our public key): the hash every initiation addressed to us starts from. */
  readonly initialHash: Uint8Array;
}

/** What the handshake needs to know about a peer. */
export interface RemoteIdentity {
  readonly publicKey: Uint8Array;
  readonly publicKeyObject: KeyObject;
  /** The preshared key, 32 zero bytes when there is none. */
  readonly presharedKey: Uint8Array;
  /** DH(our static private, their static public), computed once; undefined when their key is of low order. */
  readonly staticStatic: Uint8Array | undefined;
  /** HASH(Hi ‖ their public key). */
  readonly initialHash: Uint8Array;
}

export function localIdentity(privateKey: Uint8Array): LocalIdentity {
  const key = x25519PrivateKey(privateKey);
  const publicKey = publicKeyBytes(key);
  return { privateKey: key, publicKey, initialHash: hash(INITIAL_HASH, publicKey) };
}

export function remoteIdentity(local: LocalIdentity, publicKey: Uint8Array, presharedKey?: Uint8Array): RemoteIdentity {
  const publicKeyObject = x25519PublicKey(publicKey);
  return {
    publicKey,
    publicKeyObject,
    presharedKey: presharedKey ?? new Uint8Array(KEY_LENGTH),
    staticStatic: dh(local.privateKey, publicKeyObject),
    initialHash: hash(INITIAL_HASH, publicKey),
  };
}

/** The initiator's state between sending an initiation and consuming the response. */
export interface InitiationState {
  readonly localIndex: number;
  readonly chainingKey: Uint8Array;
  readonly hash: Uint8Array;
  readonly ephemeral: KeyObject;
}

/** Transport keys derived at the end of a handshake. */
export interface SessionKeys {
  readonly sendKey: Buffer;
  readonly recvKey: Buffer;
}

/**
 * Builds an initiation (MAC fields left zero) from a fresh ephemeral key. Undefined when a DH result is zero, i.e.
 * the peer's static key is of low order.
 */
export function createInitiation(
  local: LocalIdentity,
  remote: RemoteIdentity,
  ephemeralPrivate: Uint8Array,
  localIndex: number,
  now: number,
): { message: Buffer; state: InitiationState } | undefined {
  if (!remote.staticStatic) return undefined;
  const ephemeral = x25519PrivateKey(ephemeralPrivate);
  const ephemeralPublic = publicKeyBytes(ephemeral);
  let [c] = kdf(1, INITIAL_CHAINING_KEY, ephemeralPublic);
  let h = hash(remote.initialHash, ephemeralPublic);
  const es = dh(ephemeral, remote.publicKeyObject);
  if (!es) return undefined;
  let k: Buffer;
  [c, k] = kdf(2, c, es);
  const encryptedStatic = seal(k, local.publicKey, h);
  h = hash(h, encryptedStatic);
  [c, k] = kdf(2, c, remote.staticStatic);
  const encryptedTimestamp = seal(k, tai64n(now), h);
  h = hash(h, encryptedTimestamp);

  const message = Buffer.alloc(INITIATION_SIZE);
  message.writeUInt32LE(MESSAGE_INITIATION, 0);
  message.writeUInt32LE(localIndex, Initiation.sender);
  message.set(ephemeralPublic, Initiation.ephemeral);
  message.set(encryptedStatic, Initiation.static);
  message.set(encryptedTimestamp, Initiation.timestamp);
  return { message, state: { localIndex, chainingKey: c, hash: h, ephemeral } };
}

/** An initiation the responder has authenticated, before checking its timestamp against replay. */
export interface ConsumedInitiation<P> {
  readonly peer: P;
  readonly remoteIndex: number;
  readonly remoteEphemeral: Uint8Array;
  readonly timestamp: Uint8Array;
  readonly chainingKey: Uint8Array;
  readonly hash: Uint8Array;
}

export type ConsumeInitiationError = 'decrypt_failed' | 'unknown_peer';

/** Decrypts an initiation (size and MAC1 already checked) and finds its sender among our peers. */
export function consumeInitiation<P extends { readonly identity: RemoteIdentity }>(
  local: LocalIdentity,
  message: Uint8Array,
  findPeer: (publicKey: Uint8Array) => P | undefined,
): ConsumedInitiation<P> | ConsumeInitiationError {
  const remoteEphemeral = message.slice(Initiation.ephemeral, Initiation.static);
  let [c] = kdf(1, INITIAL_CHAINING_KEY, remoteEphemeral);
  let h = hash(local.initialHash, remoteEphemeral);
  const es = dh(local.privateKey, x25519PublicKey(remoteEphemeral));
  if (!es) return 'decrypt_failed';
  let k: Buffer;
  [c, k] = kdf(2, c, es);
  const encryptedStatic = message.subarray(Initiation.static, Initiation.timestamp);
  const remoteStatic = open(k, encryptedStatic, h);
  if (!remoteStatic) return 'decrypt_failed';
  h = hash(h, encryptedStatic);
  const peer = findPeer(remoteStatic);
  if (!peer || !peer.identity.staticStatic) return 'unknown_peer';
  [c, k] = kdf(2, c, peer.identity.staticStatic);
  const encryptedTimestamp = message.subarray(Initiation.timestamp, Initiation.mac1);
  const timestamp = open(k, encryptedTimestamp, h);
  if (!timestamp) return 'decrypt_failed';
  h = hash(h, encryptedTimestamp);
  return {
    peer,
    remoteIndex: readIndex(message, Initiation.sender),
    remoteEphemeral,
    timestamp,
    chainingKey: c,
    hash: h,
  };
}

/** Builds the response to a consumed initiation (MAC fields left zero) and derives the responder's keys. */
export function createResponse(
  consumed: ConsumedInitiation<{ readonly identity: RemoteIdentity }>,
  ephemeralPrivate: Uint8Array,
  localIndex: number,
): { message: Buffer; keys: SessionKeys } | undefined {
  const remote = consumed.peer.identity;
  const ephemeral = x25519PrivateKey(ephemeralPrivate);
  const ephemeralPublic = publicKeyBytes(ephemeral);
  let [c] = kdf(1, consumed.chainingKey, ephemeralPublic);
  let h = hash(consumed.hash, ephemeralPublic);
  const ee = dh(ephemeral, x25519PublicKey(consumed.remoteEphemeral));
  const se = dh(ephemeral, remote.publicKeyObject);
  if (!ee || !se) return undefined;
  [c] = kdf(1, c, ee);
  [c] = kdf(1, c, se);
  const [c3, t, k] = kdf(3, c, remote.presharedKey);
  h = hash(h, t);
  const encryptedNothing = seal(k, EMPTY, h);

  const message = Buffer.alloc(RESPONSE_SIZE);
  message.writeUInt32LE(MESSAGE_RESPONSE, 0);
  message.writeUInt32LE(localIndex, Response.sender);
  message.writeUInt32LE(consumed.remoteIndex, Response.receiver);
  message.set(ephemeralPublic, Response.ephemeral);
  message.set(encryptedNothing, Response.empty);
  const [initiatorSend, responderSend] = kdf(2, c3, EMPTY);
  return { message, keys: { sendKey: responderSend, recvKey: initiatorSend } };
}

/** Completes the initiator's side from a response (size and MAC1 checked, index matched); undefined if forged. */
export function consumeResponse(
  local: LocalIdentity,
  remote: RemoteIdentity,
  state: InitiationState,
  message: Uint8Array,
): SessionKeys | undefined {
  const remoteEphemeral = message.subarray(Response.ephemeral, Response.empty);
  const remoteEphemeralKey = x25519PublicKey(remoteEphemeral);
  let [c] = kdf(1, state.chainingKey, remoteEphemeral);
  let h = hash(state.hash, remoteEphemeral);
  const ee = dh(state.ephemeral, remoteEphemeralKey);
  const se = dh(local.privateKey, remoteEphemeralKey);
  if (!ee || !se) return undefined;
  [c] = kdf(1, c, ee);
  [c] = kdf(1, c, se);
  const [c3, t, k] = kdf(3, c, remote.presharedKey);
  h = hash(h, t);
  if (!open(k, message.subarray(Response.empty, Response.mac1), h)) return undefined;
  const [initiatorSend, responderSend] = kdf(2, c3, EMPTY);
  return { sendKey: initiatorSend, recvKey: responderSend };
}

export function readIndex(message: Uint8Array, offset: number): number {
  return (
    (message[offset]! | (message[offset + 1]! << 8) | (message[offset + 2]! << 16) | (message[offset + 3]! << 24)) >>> 0
  );
}
