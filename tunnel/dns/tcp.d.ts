import { type DnsError } from './result.js';
/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766): every message is prefixed by its length in two bytes. A segment may
 * carry several messages, or part of one; the reassembler turns the byte stream back into messages.
 *
 * Sans-IO: the driver `push`es what the socket read, then drains `pollMessage()` until undefined, and calls `finish()`
 * when the peer closes. A message is a view into a pushed chunk when it lies in one (no copy), so chunks must not be
 * reused after `push` (Node's socket 'data' buffers are not); otherwise it is copied together. A message of length 0
 * comes out as an empty array, for `parseQuery` to reject like any other short message. Memory is bounded by what
 * the driver pushes between polls, and a message by 65,535 bytes.
 */
export declare class DnsTcpReassembler {
    private readonly chunks;
    /** Bytes of chunks[0] already consumed. */
    private offset;
    private buffered;
    /** Bytes waiting to form a message. */
    get bufferedBytes(): number;
    push(chunk: Uint8Array): void;
    /** The next complete message, or undefined until more bytes arrive. */
    pollMessage(): Uint8Array | undefined;
    /** At the end of the stream: an error when a message was cut off, so the driver can count it. */
    finish(): DnsError | undefined;
    private byteAt;
    /** Takes `length` (≤ buffered) bytes off the front. */
    private consume;
    private advance;
}
/** The message with its 2-byte length prefix, ready to write to a TCP stream; throws RangeError over 65,535 bytes. */
export declare function frameTcpMessage(message: Uint8Array): Uint8Array;
//# sourceMappingURL=tcp.d.ts.map