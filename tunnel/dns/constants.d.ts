/** DNS numbers Postern uses (IANA "Domain Name System (DNS) Parameters"). Types and classes stay plain numbers. */
export declare const DnsType: {
    readonly A: 1;
    readonly NS: 2;
    readonly CNAME: 5;
    readonly SOA: 6;
    readonly PTR: 12;
    readonly MX: 15;
    readonly TXT: 16;
    readonly AAAA: 28;
    readonly SRV: 33;
    readonly OPT: 41;
    readonly SVCB: 64;
    readonly HTTPS: 65;
    readonly ANY: 255;
};
export declare const DnsClass: {
    readonly IN: 1;
    readonly CH: 3;
    readonly ANY: 255;
};
/** Response codes; BADVERS (16) only exists with EDNS, its upper bits travel in the OPT record. */
export declare const Rcode: {
    readonly NOERROR: 0;
    readonly FORMERR: 1;
    readonly SERVFAIL: 2;
    readonly NXDOMAIN: 3;
    readonly NOTIMP: 4;
    readonly REFUSED: 5;
    readonly BADVERS: 16;
};
export type Rcode = (typeof Rcode)[keyof typeof Rcode];
export declare const Opcode: {
    readonly QUERY: 0;
};
/** Every DNS message starts with a 12-byte header. */
export declare const HEADER_SIZE = 12;
/** The largest UDP response a requestor without EDNS accepts (RFC 1035 §4.2.1). */
export declare const UDP_SIZE_WITHOUT_EDNS = 512;
/**
 * The UDP payload size Postern advertises in its OPT records and the most it sends over UDP even when the requestor
 * offers more: the DNS Flag Day 2020 value, which fits the IPv6 minimum MTU without fragmentation.
 */
export declare const ADVERTISED_UDP_SIZE = 1232;
/** A DNS message over TCP is prefixed by a 16-bit length. */
export declare const MAX_TCP_MESSAGE = 65535;
/** `A`, `HTTPS`, … or RFC 3597's `TYPE1234` for types without a name here; for logs. */
export declare function typeName(type: number): string;
/** `NXDOMAIN`, … or `RCODE23`; for logs. */
export declare function rcodeName(rcode: number): string;
//# sourceMappingURL=constants.d.ts.map