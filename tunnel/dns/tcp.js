import { MAX_TCP_MESSAGE } from './constants.js';
import { dnsError } from './result.js';
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
export class DnsTcpReassembler {
    chunks = [];
    /** Bytes of chunks[0] already consumed. */
    offset = 0;
    buffered = 0;
    /** Bytes waiting to form a message. */
    get bufferedBytes() {
        return this.buffered;
    }
    push(chunk) {
        if (chunk.length === 0)
            return;
        this.chunks.push(chunk);
        this.buffered += chunk.length;
    }
    /** The next complete message, or undefined until more bytes arrive. */
    pollMessage() {
        if (this.buffered < 2)
            return undefined;
        const length = (this.byteAt(0) << 8) | this.byteAt(1);
        if (this.buffered < 2 + length)
            return undefined;
        this.consume(2);
        return this.consume(length);
    }
    /** At the end of the stream: an error when a message was cut off, so the driver can count it. */
    finish() {
        if (this.buffered === 0)
            return undefined;
        return dnsError('incomplete-frame', `the stream ended with ${this.buffered} bytes of an unfinished message`);
    }
    byteAt(index) {
        let i = this.offset + index;
        for (const chunk of this.chunks) {
            if (i < chunk.length)
                return chunk[i];
            i -= chunk.length;
        }
        throw new RangeError('reading past the buffered bytes');
    }
    /** Takes `length` (≤ buffered) bytes off the front. */
    consume(length) {
        this.buffered -= length;
        const first = this.chunks[0];
        if (first && this.offset + length <= first.length) {
            const view = first.subarray(this.offset, this.offset + length);
            this.advance(length);
            return view;
        }
        const out = new Uint8Array(length);
        for (let filled = 0; filled < length;) {
            const chunk = this.chunks[0];
            const take = Math.min(chunk.length - this.offset, length - filled);
            out.set(chunk.subarray(this.offset, this.offset + take), filled);
            filled += take;
            this.advance(take);
        }
        return out;
    }
    advance(length) {
        this.offset += length;
        if (this.offset === this.chunks[0].length) {
            this.chunks.shift();
            this.offset = 0;
        }
    }
}
/** The message with its 2-byte length prefix, ready to write to a TCP stream; throws RangeError over 65,535 bytes. */
export function frameTcpMessage(message) {
    if (message.length > MAX_TCP_MESSAGE)
        throw new RangeError(`a DNS message over TCP has at most 65535 bytes`);
    const framed = new Uint8Array(2 + message.length);
    framed[0] = message.length >> 8;
    framed[1] = message.length;
    framed.set(message, 2);
    return framed;
}
//# sourceMappingURL=tcp.js.map