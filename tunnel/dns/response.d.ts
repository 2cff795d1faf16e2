import { type IpAddress } from '../../protocol/ip.js';
import { Rcode } from './constants.js';
import { type Edns } from './message.js';
import type { DnsQuery } from './query.js';
/**
 * Answers to parsed queries, written byte by byte rather than through dns-packet's encoder: measured on this machine
 * a 4-record A answer costs ~4.8 µs with `dnsPacket.encode` and ~0.7 µs here (`npx vitest bench --run --project unit
 * tunnel/dns`), which matters for the stub resolver's 40,000 queries/s target; and copying the question bytes echoes
 * the question exactly as asked (including the mixed case of resolvers using 0x20 randomisation), with answers owned
 * by a 2-byte pointer to it.
 *
 * Every response echoes the id, opcode, RD and CD of the query and the question, sets QR and RA (the stub resolves
 * anything, by forwarding), AA as the caller says, and carries an OPT record when the query had one (DO copied, as
 * RFC 3225 asks). A response over the requestor's UDP size is sent with TC set and no records, so it retries over
 * TCP. Builders throw only for arguments no parser produces (a TTL outside 0…2³¹−1, a target name not in normal form).
 */
export type DnsRecord = {
    /** A for an IPv4 address, AAAA for IPv6. */
    readonly kind: 'address';
    readonly address: IpAddress;
    readonly ttl: number;
    /** Owner name; the question's name when omitted. */
    readonly owner?: string;
} | {
    readonly kind: 'ptr' | 'cname';
    readonly target: string;
    readonly ttl: number;
    readonly owner?: string;
};
export interface ResponseOptions {
    /** `udp` (the default) truncates to what the requestor accepts, `tcp` allows 65,535 bytes. */
    readonly transport?: 'udp' | 'tcp';
    /** AA; by default set for NOERROR and NXDOMAIN (Postern answers on its own authority) and clear for errors. */
    readonly authoritative?: boolean;
}
/** A response with any rcode and records; the other builders are shorthands for it. */
export declare function buildResponse(query: DnsQuery, rcode: Rcode, records?: readonly DnsRecord[], options?: ResponseOptions): Uint8Array;
/**
 * Answers an A or AAAA query with those of `addresses` that fit its type (IPv4 for A, IPv6 for AAAA), all with the
 * same TTL; for any other type, or no address of the family, an empty NOERROR.
 */
export declare function answerAddresses(query: DnsQuery, addresses: readonly IpAddress[], ttl: number, options?: ResponseOptions): Uint8Array;
/** Answers a PTR query with one name. */
export declare function answerPtr(query: DnsQuery, target: string, ttl: number, options?: ResponseOptions): Uint8Array;
/**
 * NOERROR without records and without an SOA in the authority section ("no data of this type"), as Firezone answers
 * HTTPS and other types for resources. Stub resolvers (glibc, systemd-resolved, browsers) and dig accept it; caching
 * resolvers do not cache it, which costs nothing when the answer comes from the same machine.
 */
export declare function answerNoData(query: DnsQuery, options?: ResponseOptions): Uint8Array;
/** NXDOMAIN, REFUSED, SERVFAIL, NOTIMP or FORMERR for a query that parsed, question echoed. */
export declare function answerRcode(query: DnsQuery, rcode: Rcode, options?: ResponseOptions): Uint8Array;
/**
 * The most bytes a response to `query` may have: over TCP 65,535; over UDP the requestor's EDNS size (at least 512,
 * RFC 6891 §6.2.5) capped at the 1,232 Postern advertises, or 512 without EDNS.
 */
export declare function maxResponseSize(query: DnsQuery, transport: 'udp' | 'tcp'): number;
/** Everything a response header and body need; also used for the replies to queries that did not parse. */
export interface MessageFields {
    readonly id: number;
    readonly opcode: number;
    readonly recursionDesired: boolean;
    readonly checkingDisabled: boolean;
    readonly authoritative: boolean;
    /** Up to 12 bits; the upper 8 go into the OPT record. */
    readonly rcode: number;
    /** The question section as received, or undefined for a header-only reply. */
    readonly question: Uint8Array | undefined;
    readonly records: readonly DnsRecord[];
    /** The query's EDNS; the response then carries an OPT record. */
    readonly edns: Edns | undefined;
    readonly maxSize: number;
}
export declare function encodeMessage(fields: MessageFields): Uint8Array;
/**
 * Zeroed bytes for an outgoing message. Node's pooled `Buffer.allocUnsafe` plus `fill` costs ~0.1 µs where
 * `new Uint8Array(n)` costs ~0.5 µs for n > 64 (V8 gives larger typed arrays their own backing store); the result may
 * be a view into a shared pool, so use it through its offset and length only.
 */
export declare function allocate(size: number): Uint8Array;
//# sourceMappingURL=response.d.ts.map