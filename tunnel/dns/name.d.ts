import { type DnsError, type DnsResult } from './result.js';
/**
 * Domain names in one normal form everywhere in Postern: ASCII lower case, labels joined by dots, no final dot; the
 * root is `.`. IDNA is the OS's business: names arrive in punycode and `xn--` labels stay as they are.
 *
 * Names read from the wire are lossless: a byte that is not printable ASCII, and a `.` or `\` inside a label, is
 * written in presentation-format escapes (`\.`, `\\`, `\DDD` in decimal), so `a\.b.example` (two labels) never
 * equals `a.b.example` (three) — dns-packet's decoder joins such labels with plain dots, which would let a crafted
 * name match a resource pattern it is not under. Names that need escapes never match a resource (resources are
 * plain host names) and are simply forwarded.
 */
export declare const MAX_NAME_TEXT = 253;
export declare const MAX_LABEL = 63;
/**
 * Normalises a name a person typed or config holds: lower-cases ASCII, strips one final dot (`.` alone is the root)
 * and rejects empty labels, labels over 63 bytes, names over 253, and characters other than printable ASCII (spaces,
 * controls, `\` and non-ASCII — write internationalised names in punycode).
 */
export declare function normalizeName(text: string): DnsResult<string>;
export interface WireName {
    /** The name in normal form (escapes for odd bytes, see above). */
    readonly name: string;
    /** Where the name ends in the message: after its last label, or after the first compression pointer. */
    readonly end: number;
}
/**
 * Reads a name from a DNS message at `offset`, following compression pointers. A pointer must point strictly before
 * the label sequence it appears in (which bounds the walk, so loops are impossible) and after the header (so a
 * query's question name, the first name in a message, can never be compressed).
 */
export declare function readName(message: Uint8Array, offset: number): WireName | DnsError;
/**
 * A name in normal form (as `normalizeName` or `readName` return it, escapes included) as wire-format labels. Throws
 * for a name that is not in normal form: names reaching the encoder come from the parsers or from validated config.
 */
export declare function encodeName(name: string): Uint8Array;
//# sourceMappingURL=name.d.ts.map