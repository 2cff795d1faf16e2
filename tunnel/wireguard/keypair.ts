/**
 * One session's transport keys (whitepaper §5.4.6): encrypts and decrypts transport data messages with
 * ChaCha20-Poly1305 and a 64-bit counter nonce, and tracks the counters the timers care about.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import {
  MESSAGE_TRANSPORT,
  REJECT_AFTER_MESSAGES_HI,
  REJECT_AFTER_MESSAGES_LO,
  REKEY_AFTER_MESSAGES_HI,
  TAG_SIZE,
  TRANSPORT_HEADER_SIZE,
} from './constants.js';
import { ReplayWindow } from './replay.js';

/** Reused for every packet: createCipheriv copies the nonce, and everything here runs on one thread. */
const nonce = Buffer.alloc(12);
const ZEROS = new Uint8Array(16);
const AEAD_OPTIONS = { authTagLength: TAG_SIZE } as const;

export class Keypair {
  /** Counter of the next message to send, as two 32-bit halves. */
  sendHi = 0;
  sendLo = 0;
  readonly replay = new ReplayWindow();
  /** Cipher keys as OpenSSL key objects: creating a cipher from one is ~25% cheaper than from raw bytes. */
  private sendKeyObject: KeyObject;
  private recvKeyObject: KeyObject;

  constructor(
    private readonly sendKey: Buffer,
    private readonly recvKey: Buffer,
    readonly isInitiator: boolean,
    readonly created: number,
    readonly localIndex: number,
    readonly remoteIndex: number,
  ) {
    this.sendKeyObject = createSecretKey(sendKey);
    this.recvKeyObject = createSecretKey(recvKey);
  }

  /** Whether the next send would reach REJECT_AFTER_MESSAGES. */
  get sendExhausted(): boolean {
    return this.sendHi === REJECT_AFTER_MESSAGES_HI && this.sendLo >= REJECT_AFTER_MESSAGES_LO;
  }

  /** Whether REKEY_AFTER_MESSAGES messages have been sent. */
  get rekeyByMessages(): boolean {
    return this.sendHi >= REKEY_AFTER_MESSAGES_HI;
  }

  /**
   * A transport data message carrying `packet` padded with zeros to `paddedLength`. The caller checks
   * `sendExhausted` first.
   */
  seal(packet: Uint8Array, paddedLength: number): Buffer {
    const lo = this.sendLo;
    const hi = this.sendHi;
    if (lo === 0xffffffff) {
      this.sendLo = 0;
      this.sendHi = hi + 1;
    } else {
      this.sendLo = lo + 1;
    }
    nonce.writeUInt32LE(lo, 4);
    nonce.writeUInt32LE(hi, 8);
    const out = Buffer.allocUnsafe(TRANSPORT_HEADER_SIZE + paddedLength + TAG_SIZE);
    out.writeUInt32LE(MESSAGE_TRANSPORT, 0);
    out.writeUInt32LE(this.remoteIndex, 4);
    out.writeUInt32LE(lo, 8);
    out.writeUInt32LE(hi, 12);
    const cipher = createCipheriv('chacha20-poly1305', this.sendKeyObject, nonce, AEAD_OPTIONS);
    out.set(cipher.update(packet), TRANSPORT_HEADER_SIZE);
    const padding = paddedLength - packet.length;
    if (padding > 0) out.set(cipher.update(ZEROS.subarray(0, padding)), TRANSPORT_HEADER_SIZE + packet.length);
    cipher.final();
    out.set(cipher.getAuthTag(), TRANSPORT_HEADER_SIZE + paddedLength);
    return out;
  }

  /**
   * The plaintext of a transport data message whose counter (`hi`, `lo`) the caller has read and bounds-checked;
   * undefined when authentication fails. The replay window is not touched: only authenticated counters may move it.
   */
  open(message: Uint8Array, hi: number, lo: number): Buffer | undefined {
    nonce.writeUInt32LE(lo, 4);
    nonce.writeUInt32LE(hi, 8);
    const tagAt = message.length - TAG_SIZE;
    const decipher = createDecipheriv('chacha20-poly1305', this.recvKeyObject, nonce, AEAD_OPTIONS);
    decipher.setAuthTag(message.subarray(tagAt));
    const plaintext = decipher.update(message.subarray(TRANSPORT_HEADER_SIZE, tagAt));
    try {
      decipher.final();
    } catch {
      return undefined;
    }
    return plaintext;
  }

  /**
   * Overwrites the raw keys. The OpenSSL key objects cannot be wiped from JavaScript; they are replaced by objects
   * holding the (now zero) bytes so the old ones become garbage.
   */
  zero(): void {
    this.sendKey.fill(0);
    this.recvKey.fill(0);
    this.sendKeyObject = createSecretKey(this.sendKey);
    this.recvKeyObject = createSecretKey(this.recvKey);
  }

  /** Test access to the raw keys, to check that zeroing happened. */
  get keyMaterial(): readonly Uint8Array[] {
    return [this.sendKey, this.recvKey];
  }
}

/** Whether a received counter is at or beyond REJECT_AFTER_MESSAGES. */
export function counterRejected(hi: number, lo: number): boolean {
  return hi === REJECT_AFTER_MESSAGES_HI && lo >= REJECT_AFTER_MESSAGES_LO;
}
