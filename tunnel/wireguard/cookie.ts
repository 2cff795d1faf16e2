/**
 * MAC1/MAC2 and cookies (whitepaper §5.3, §5.4.4, §5.4.7). Every handshake message carries MAC1, keyed by the
 * receiver's public key, so that a responder can drop garbage with one hash. Under load, a responder also demands
 * MAC2, keyed by a cookie only the sender's IP address and port can obtain: without it, it answers with a cookie
 * reply instead of doing the expensive DH work.
 */
import { COOKIE_REPLY_SIZE, MESSAGE_COOKIE_REPLY, LABEL_COOKIE, LABEL_MAC1 } from './constants.js';
import { equalBytes, hash, mac, xopen, xseal } from './crypto.js';
import { readIndex } from './handshake.js';
import type { Rng } from './rng.js';

const MAC_SIZE = 16;
const NONCE_SIZE = 24;
const utf8 = new TextEncoder();

/** Byte offsets of the cookie reply message (whitepaper §5.4.7). */
export const CookieReply = { receiver: 4, nonce: 8, cookie: 32 } as const;

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** The two MAC keys derived from one public key. */
export function macKeys(publicKey: Uint8Array): { mac1Key: Uint8Array; cookieKey: Uint8Array } {
  return {
    mac1Key: hash(utf8.encode(LABEL_MAC1), publicKey),
    cookieKey: hash(utf8.encode(LABEL_COOKIE), publicKey),
  };
}

/** The sending side: adds MACs to our handshake messages for one peer and keeps the cookie that peer gave us. */
export class CookieGenerator {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private lastMac1: Uint8Array | undefined;
  private cookie: Uint8Array | undefined;
  private cookieReceivedAt = -Infinity;

  constructor(
    peerPublicKey: Uint8Array,
    private readonly cookieLifetime: number,
  ) {
    ({ mac1Key: this.mac1Key, cookieKey: this.cookieKey } = macKeys(peerPublicKey));
  }

  /** Fills in MAC1 and — while a cookie is fresh — MAC2 of a handshake message (the last 32 bytes). */
  addMacs(message: Uint8Array, now: number): void {
    const mac1At = message.length - 2 * MAC_SIZE;
    const mac1 = mac(this.mac1Key, message.subarray(0, mac1At));
    message.set(mac1, mac1At);
    this.lastMac1 = mac1;
    const mac2At = mac1At + MAC_SIZE;
    if (this.cookie && now - this.cookieReceivedAt < this.cookieLifetime) {
      message.set(mac(this.cookie, message.subarray(0, mac2At)), mac2At);
    } else {
      message.fill(0, mac2At);
    }
  }

  /**
   * Takes the cookie from a cookie reply to our last handshake message. False when we sent nothing it could answer
   * or it does not decrypt; a cookie reply is accepted once.
   */
  consumeReply(message: Uint8Array, now: number): boolean {
    if (!this.lastMac1) return false;
    const cookie = xopen(
      this.cookieKey,
      message.subarray(CookieReply.nonce, CookieReply.cookie),
      message.subarray(CookieReply.cookie, COOKIE_REPLY_SIZE),
      this.lastMac1,
    );
    if (!cookie) return false;
    this.cookie = cookie;
    this.cookieReceivedAt = now;
    this.lastMac1 = undefined;
    return true;
  }
}

/** The receiving side: checks MACs on handshake messages addressed to us and issues cookies. */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private readonly secret = new Uint8Array(32);
  private secretCreatedAt = -Infinity;

  constructor(
    ourPublicKey: Uint8Array,
    private readonly rng: Rng,
    private readonly secretLifetime: number,
  ) {
    ({ mac1Key: this.mac1Key, cookieKey: this.cookieKey } = macKeys(ourPublicKey));
  }

  checkMac1(message: Uint8Array): boolean {
    const mac1At = message.length - 2 * MAC_SIZE;
    return equalBytes(mac(this.mac1Key, message.subarray(0, mac1At)), message.subarray(mac1At, mac1At + MAC_SIZE));
  }

  /** Whether MAC2 carries a cookie we issued to `from` within the secret's lifetime. */
  checkMac2(message: Uint8Array, from: Endpoint, now: number): boolean {
    if (now - this.secretCreatedAt >= this.secretLifetime) return false;
    const mac2At = message.length - MAC_SIZE;
    const expected = mac(this.cookieFor(from), message.subarray(0, mac2At));
    return equalBytes(expected, message.subarray(mac2At));
  }

  /** A cookie reply to `message` (a handshake message from `from`), rotating the secret when it is too old. */
  createReply(message: Uint8Array, from: Endpoint, now: number): Uint8Array {
    if (now - this.secretCreatedAt >= this.secretLifetime) {
      this.rng.fill(this.secret);
      this.secretCreatedAt = now;
    }
    const nonce = new Uint8Array(NONCE_SIZE);
    this.rng.fill(nonce);
    const mac1At = message.length - 2 * MAC_SIZE;
    const sealed = xseal(this.cookieKey, nonce, this.cookieFor(from), message.subarray(mac1At, mac1At + MAC_SIZE));
    const reply = new Uint8Array(COOKIE_REPLY_SIZE);
    const view = new DataView(reply.buffer);
    view.setUint32(0, MESSAGE_COOKIE_REPLY, true);
    view.setUint32(CookieReply.receiver, readIndex(message, 4), true);
    reply.set(nonce, CookieReply.nonce);
    reply.set(sealed, CookieReply.cookie);
    return reply;
  }

  /**
   * τ = MAC(secret, source address). The address encoding is private to this responder (it alone makes and checks
   * its cookies); host and port as the driver reports them identify the source.
   */
  private cookieFor(from: Endpoint): Uint8Array {
    return mac(this.secret, utf8.encode(`${from.host} ${from.port}`));
  }
}
