/** What the DNS parsers return instead of throwing. */
export type DnsErrorKind = 
/** A name typed by a person or taken from config breaks the rules (see `normalizeName`). */
'invalid-name'
/** Fewer than the 12 header bytes. */
 | 'short-header'
/** The QR bit says response where a query was expected, or the other way round. */
 | 'wrong-direction'
/** An opcode other than QUERY. */
 | 'opcode'
/** Not exactly one question (a response may also have none). */
 | 'question-count'
/** A section or record ends past the end of the message. */
 | 'truncated'
/** A name on the wire breaks the rules: bad label type, pointer not strictly backwards, longer than 255 bytes. */
 | 'bad-name'
/** A record's data does not fit its type (an A record that is not 4 bytes, a CNAME target overrunning its data). */
 | 'bad-record'
/** A malformed OPT record, or more than one. */
 | 'bad-edns'
/** An EDNS version this side does not speak (only 0 exists). */
 | 'edns-version'
/** A TCP stream ended in the middle of a message. */
 | 'incomplete-frame';
export interface DnsError {
    readonly kind: DnsErrorKind;
    /** Human-readable, names the offending text or byte offset. */
    readonly message: string;
}
export type DnsResult<T, E extends DnsError = DnsError> = {
    readonly ok: true;
    readonly value: T;
} | {
    readonly ok: false;
    readonly error: E;
};
export declare function dnsError(kind: DnsErrorKind, message: string): DnsError;
//# sourceMappingURL=result.d.ts.map