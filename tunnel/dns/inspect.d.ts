import { type IpAddress } from '../../protocol/ip.js';
import { type DnsQuestion, type Edns } from './message.js';
import { type DnsResult } from './result.js';
/**
 * Inspecting responses from upstream resolvers: the client's forwarder matches them to the queries it sent (id and
 * question) and rewrites the id back; the gateway reads the addresses a resource name resolves to, with their TTLs.
 *
 * Only A, AAAA and CNAME data are decoded; every other record is checked to lie inside the message and skipped, so a
 * record type nobody here understands never makes a good response unreadable (dns-packet's decoder fails the whole
 * message on any malformed record of any type, and its names are lossy, see name.ts).
 */
export interface DnsResponseInfo {
    readonly id: number;
    readonly opcode: number;
    /** The full response code: the header's 4 bits plus the OPT record's upper 8 (e.g. 16 for BADVERS). */
    readonly rcode: number;
    readonly authoritative: boolean;
    /** TC: the answer did not fit; ask again over TCP. */
    readonly truncated: boolean;
    readonly recursionDesired: boolean;
    readonly recursionAvailable: boolean;
    readonly authenticData: boolean;
    readonly checkingDisabled: boolean;
    /** Undefined when the response carries no question (some servers answer FORMERR that way). */
    readonly question: DnsQuestion | undefined;
    readonly answers: readonly AnswerRecord[];
    /**
     * The A and AAAA records of the question's name, following CNAMEs in the answer section, in the order given.
     * Records for other owners (a resolver's unrelated extras) are left out.
     */
    readonly addresses: readonly {
        readonly address: IpAddress;
        readonly ttl: number;
    }[];
    readonly edns: Edns | undefined;
}
export interface AnswerRecord {
    readonly name: string;
    readonly type: number;
    readonly class: number;
    readonly ttl: number;
    /** For A and AAAA records. */
    readonly address?: IpAddress;
    /** For CNAME records. */
    readonly target?: string;
}
/** Reads a response; never throws. Its answer records must be well-formed, the others only need to fit. */
export declare function inspectResponse(payload: Uint8Array): DnsResult<DnsResponseInfo>;
/** Whether two questions ask the same (names are in normal form, so this is case-insensitive). */
export declare function sameQuestion(a: DnsQuestion, b: DnsQuestion): boolean;
/** The message id, or undefined for fewer than 2 bytes. */
export declare function messageId(message: Uint8Array): number | undefined;
/**
 * Overwrites the message id in place (the forwarder gives each upstream query an id of its own and puts the
 * requestor's back into the response); copy first if the bytes are shared. Throws RangeError for < 2 bytes.
 */
export declare function setMessageId(message: Uint8Array, id: number): void;
//# sourceMappingURL=inspect.d.ts.map