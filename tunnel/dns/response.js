import { writeIp } from '../../protocol/ip.js';
import { ADVERTISED_UDP_SIZE, DnsClass, DnsType, HEADER_SIZE, MAX_TCP_MESSAGE, Rcode, UDP_SIZE_WITHOUT_EDNS, } from './constants.js';
import { OPT_SIZE, put16, put32 } from './message.js';
import { encodeName } from './name.js';
/** A response with any rcode and records; the other builders are shorthands for it. */
export function buildResponse(query, rcode, records = [], options = {}) {
    return encodeMessage({
        id: query.id,
        opcode: 0,
        recursionDesired: query.recursionDesired,
        checkingDisabled: query.checkingDisabled,
        authoritative: options.authoritative ?? (rcode === Rcode.NOERROR || rcode === Rcode.NXDOMAIN),
        rcode,
        question: query.questionBytes,
        records,
        edns: query.edns,
        maxSize: maxResponseSize(query, options.transport ?? 'udp'),
    });
}
/**
 * Answers an A or AAAA query with those of `addresses` that fit its type (IPv4 for A, IPv6 for AAAA), all with the
 * same TTL; for any other type, or no address of the family, an empty NOERROR.
 */
export function answerAddresses(query, addresses, ttl, options) {
    const want = query.question.type === DnsType.A ? 'number' : query.question.type === DnsType.AAAA ? 'bigint' : '';
    const records = [];
    for (const address of addresses)
        if (typeof address === want)
            records.push({ kind: 'address', address, ttl });
    return buildResponse(query, Rcode.NOERROR, records, options);
}
/** Answers a PTR query with one name. */
export function answerPtr(query, target, ttl, options) {
    return buildResponse(query, Rcode.NOERROR, [{ kind: 'ptr', target, ttl }], options);
}
/**
 * NOERROR without records and without an SOA in the authority section ("no data of this type"), as Firezone answers
 * HTTPS and other types for resources. Stub resolvers (glibc, systemd-resolved, browsers) and dig accept it; caching
 * resolvers do not cache it, which costs nothing when the answer comes from the same machine.
 */
export function answerNoData(query, options) {
    return buildResponse(query, Rcode.NOERROR, [], options);
}
/** NXDOMAIN, REFUSED, SERVFAIL, NOTIMP or FORMERR for a query that parsed, question echoed. */
export function answerRcode(query, rcode, options) {
    return buildResponse(query, rcode, [], options);
}
/**
 * The most bytes a response to `query` may have: over TCP 65,535; over UDP the requestor's EDNS size (at least 512,
 * RFC 6891 §6.2.5) capped at the 1,232 Postern advertises, or 512 without EDNS.
 */
export function maxResponseSize(query, transport) {
    if (transport === 'tcp')
        return MAX_TCP_MESSAGE;
    if (!query.edns)
        return UDP_SIZE_WITHOUT_EDNS;
    return Math.min(Math.max(query.edns.udpSize, UDP_SIZE_WITHOUT_EDNS), ADVERTISED_UDP_SIZE);
}
const RECORD_FIXED = 10;
const POINTER_TO_QUESTION = 0xc000 | HEADER_SIZE;
export function encodeMessage(fields) {
    const head = HEADER_SIZE + (fields.question?.length ?? 0);
    const tail = fields.edns ? OPT_SIZE : 0;
    let records = fields.records;
    // Owner and target names other than the question's, encoded once, here: [owner, target] per record.
    const names = [];
    let size = head + tail;
    for (let i = 0; i < records.length; i++) {
        const record = records[i];
        checkTtl(record.ttl);
        const owner = record.owner === undefined ? undefined : encodeName(record.owner);
        const target = record.kind === 'address' ? undefined : encodeName(record.target);
        names.push(owner, target);
        const data = record.kind === 'address' ? (typeof record.address === 'number' ? 4 : 16) : target.length;
        size += (owner?.length ?? 2) + RECORD_FIXED + data;
    }
    let truncated = false;
    if (size > fields.maxSize) {
        truncated = true;
        records = [];
        size = head + tail;
    }
    const out = allocate(size);
    out[0] = fields.id >> 8;
    out[1] = fields.id;
    out[2] =
        0x80 |
            ((fields.opcode & 0x0f) << 3) |
            (fields.authoritative ? 0x04 : 0) |
            (truncated ? 0x02 : 0) |
            (fields.recursionDesired ? 0x01 : 0);
    out[3] = 0x80 | (fields.checkingDisabled ? 0x10 : 0) | (fields.rcode & 0x0f);
    out[5] = fields.question ? 1 : 0;
    out[6] = records.length >> 8;
    out[7] = records.length;
    out[11] = fields.edns ? 1 : 0;
    if (fields.question)
        out.set(fields.question, HEADER_SIZE);
    let pos = head;
    for (let i = 0; i < records.length; i++) {
        const record = records[i];
        const owner = names[2 * i];
        if (owner) {
            out.set(owner, pos);
            pos += owner.length;
        }
        else {
            pos = put16(out, pos, POINTER_TO_QUESTION);
        }
        if (record.kind === 'address') {
            const v4 = typeof record.address === 'number';
            pos = put16(out, pos, v4 ? DnsType.A : DnsType.AAAA);
            pos = put16(out, pos, DnsClass.IN);
            pos = put32(out, pos, record.ttl);
            pos = put16(out, pos, v4 ? 4 : 16);
            writeIp(record.address, out, pos);
            pos += v4 ? 4 : 16;
        }
        else {
            const target = names[2 * i + 1];
            pos = put16(out, pos, record.kind === 'ptr' ? DnsType.PTR : DnsType.CNAME);
            pos = put16(out, pos, DnsClass.IN);
            pos = put32(out, pos, record.ttl);
            pos = put16(out, pos, target.length);
            out.set(target, pos);
            pos += target.length;
        }
    }
    if (fields.edns) {
        // Root owner (the zero byte at `pos`), type OPT, our UDP size, extended rcode, version 0, DO copied, no options.
        put16(out, pos + 1, DnsType.OPT);
        put16(out, pos + 3, ADVERTISED_UDP_SIZE);
        out[pos + 5] = fields.rcode >> 4;
        out[pos + 7] = fields.edns.dnssecOk ? 0x80 : 0;
    }
    return out;
}
function checkTtl(ttl) {
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fff_ffff)
        throw new RangeError(`TTL ${ttl} is not 0…2³¹−1`);
}
/**
 * Zeroed bytes for an outgoing message. Node's pooled `Buffer.allocUnsafe` plus `fill` costs ~0.1 µs where
 * `new Uint8Array(n)` costs ~0.5 µs for n > 64 (V8 gives larger typed arrays their own backing store); the result may
 * be a view into a shared pool, so use it through its offset and length only.
 */
export function allocate(size) {
    return Buffer.allocUnsafe(size).fill(0);
}
//# sourceMappingURL=response.js.map