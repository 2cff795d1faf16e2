import { type DnsError } from './result.js';
/** Reading the parts of a DNS message that queries and responses share: header, question, records, EDNS. */
export interface DnsQuestion {
    /** In normal form (see name.ts): lower case, no final dot, `.` for the root. */
    readonly name: string;
    readonly type: number;
    readonly class: number;
}
/** What an OPT record says (RFC 6891). */
export interface Edns {
    /** The largest UDP payload the sender accepts, as sent (may be below 512; see `maxResponseSize`). */
    readonly udpSize: number;
    /** DO: the sender wants DNSSEC records (RFC 3225). */
    readonly dnssecOk: boolean;
    readonly version: number;
    /** The upper 8 bits of the 12-bit response code. */
    readonly extendedRcode: number;
}
export interface RecordHeader {
    readonly name: string;
    readonly type: number;
    readonly class: number;
    readonly ttl: number;
    readonly dataStart: number;
    readonly dataEnd: number;
}
/** Header fields by position: counts, flags. */
export declare const header: {
    id: (m: Uint8Array) => number;
    isResponse: (m: Uint8Array) => boolean;
    opcode: (m: Uint8Array) => number;
    authoritative: (m: Uint8Array) => boolean;
    truncated: (m: Uint8Array) => boolean;
    recursionDesired: (m: Uint8Array) => boolean;
    recursionAvailable: (m: Uint8Array) => boolean;
    authenticData: (m: Uint8Array) => boolean;
    checkingDisabled: (m: Uint8Array) => boolean;
    rcode: (m: Uint8Array) => number;
    questions: (m: Uint8Array) => number;
    answers: (m: Uint8Array) => number;
    authorities: (m: Uint8Array) => number;
    additionals: (m: Uint8Array) => number;
};
export declare function readQuestion(message: Uint8Array, offset: number): {
    question: DnsQuestion;
    end: number;
} | DnsError;
/** Reads one resource record's fixed part and checks its data lies inside the message. */
export declare function readRecord(message: Uint8Array, offset: number): RecordHeader | DnsError;
/**
 * Walks `count` records from `offset`, calling `visit` for each, and returns where they end. The OPT record of the
 * additional section is found this way too (`additionalEdns`).
 */
export declare function walkRecords(message: Uint8Array, offset: number, count: number, visit?: (record: RecordHeader) => DnsError | undefined): number | DnsError;
/** Reads the additional section: its OPT record if any (at most one, owned by the root, options well-formed). */
export declare function readAdditionals(message: Uint8Array, offset: number, count: number): {
    edns: Edns | undefined;
    end: number;
} | DnsError;
/** An OPT record without options: root owner, type, UDP size, extended rcode, version, flags, data length. */
export declare const OPT_SIZE = 11;
export declare function u16(bytes: Uint8Array, offset: number): number;
export declare function put16(out: Uint8Array, pos: number, value: number): number;
export declare function put32(out: Uint8Array, pos: number, value: number): number;
//# sourceMappingURL=message.d.ts.map