/** DNS numbers Postern uses (IANA "Domain Name System (DNS) Parameters"). Types and classes stay plain numbers. */
export const DnsType = {
    A: 1,
    NS: 2,
    CNAME: 5,
    SOA: 6,
    PTR: 12,
    MX: 15,
    TXT: 16,
    AAAA: 28,
    SRV: 33,
    OPT: 41,
    SVCB: 64,
    HTTPS: 65,
    ANY: 255,
};
export const DnsClass = { IN: 1, CH: 3, ANY: 255 };
/** Response codes; BADVERS (16) only exists with EDNS, its upper bits travel in the OPT record. */
export const Rcode = {
    NOERROR: 0,
    FORMERR: 1,
    SERVFAIL: 2,
    NXDOMAIN: 3,
    NOTIMP: 4,
    REFUSED: 5,
    BADVERS: 16,
};
export const Opcode = { QUERY: 0 };
/** Every DNS message starts with a 12-byte header. */
export const HEADER_SIZE = 12;
/** The largest UDP response a requestor without EDNS accepts (RFC 1035 §4.2.1). */
export const UDP_SIZE_WITHOUT_EDNS = 512;
/**
 * The UDP payload size Postern advertises in its OPT records and the most it sends over UDP even when the requestor
 * offers more: the DNS Flag Day 2020 value, which fits the IPv6 minimum MTU without fragmentation.
 */
export const ADVERTISED_UDP_SIZE = 1232;
/** A DNS message over TCP is prefixed by a 16-bit length. */
export const MAX_TCP_MESSAGE = 65535;
const TYPE_NAMES = new Map(Object.entries(DnsType).map(([name, code]) => [code, name]));
const RCODE_NAMES = new Map(Object.entries(Rcode).map(([name, code]) => [code, name]));
/** `A`, `HTTPS`, … or RFC 3597's `TYPE1234` for types without a name here; for logs. */
export function typeName(type) {
    return TYPE_NAMES.get(type) ?? `TYPE${type}`;
}
/** `NXDOMAIN`, … or `RCODE23`; for logs. */
export function rcodeName(rcode) {
    return RCODE_NAMES.get(rcode) ?? `RCODE${rcode}`;
}
//# sourceMappingURL=constants.js.map