import { type DnsQuestion, type Edns } from './message.js';
import { type DnsError, type DnsResult } from './result.js';
/**
 * Queries as a stub resolver receives them (one UDP payload, or one message out of `DnsTcpReassembler`).
 *
 * Read by hand rather than with dns-packet's decoder, for correctness first: dns-packet's names are lossy (see
 * name.ts), it does not say where the question ends (the responses echo those bytes), and it accepts a second OPT
 * record or one not owned by the root, which RFC 6891 answers with FORMERR. It is also faster on the path with a
 * 40,000 queries/s target: ~0.65 µs per query here against ~0.9 µs for `dnsPacket.decode` on this machine
 * (`npx vitest bench --run --project unit tunnel/dns`).
 */
export interface DnsQuery {
    readonly id: number;
    /** RD: the requestor wants recursion; echoed in the response. */
    readonly recursionDesired: boolean;
    /** CD: the requestor checks DNSSEC itself; echoed in the response. */
    readonly checkingDisabled: boolean;
    readonly question: DnsQuestion;
    /** The OPT record's content, or undefined without EDNS (the requestor then accepts 512 bytes over UDP). */
    readonly edns: Edns | undefined;
    /**
     * The question section exactly as received (the name's case included), echoed by the response builders. A view
     * into the payload: build the response before the payload's buffer is reused.
     */
    readonly questionBytes: Uint8Array;
}
export interface QueryError extends DnsError {
    /**
     * The reply to send when the header was readable enough to answer: FORMERR for a malformed query, NOTIMP for an
     * opcode other than QUERY, BADVERS for an EDNS version other than 0. Undefined means drop the datagram (too short to
     * have an id, or a response rather than a query — answering those invites loops).
     */
    readonly reply: Uint8Array | undefined;
}
/**
 * Parses a query: exactly one question, records in the answer and authority sections skipped, the additional section
 * read for at most one OPT record. Never throws; bytes after the last record are ignored, like most servers do.
 */
export declare function parseQuery(payload: Uint8Array): DnsResult<DnsQuery, QueryError>;
export interface QueryOptions {
    /** RD; default true (asking a recursive resolver). */
    readonly recursionDesired?: boolean;
    /** The UDP size to advertise in an OPT record, or false for no EDNS; default 1232. */
    readonly udpSize?: number | false;
    /** Set DO in the OPT record (ask for DNSSEC records); default false. */
    readonly dnssecOk?: boolean;
}
/**
 * A query for `name` (normalised first; an invalid name is an error, not a query) of type `type`, class IN; for the
 * gateway resolving resource names and the forwarder's own queries. Throws RangeError for an id or type over 16 bits.
 */
export declare function buildQuery(id: number, name: string, type: number, options?: QueryOptions): DnsResult<Uint8Array>;
//# sourceMappingURL=query.d.ts.map