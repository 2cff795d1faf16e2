import { ADVERTISED_UDP_SIZE, DnsClass, DnsType, HEADER_SIZE, Opcode, Rcode, UDP_SIZE_WITHOUT_EDNS, } from './constants.js';
import { OPT_SIZE, header, put16, readAdditionals, readQuestion, walkRecords, } from './message.js';
import { encodeName, normalizeName } from './name.js';
import { dnsError } from './result.js';
import { allocate, encodeMessage } from './response.js';
/**
 * Parses a query: exactly one question, records in the answer and authority sections skipped, the additional section
 * read for at most one OPT record. Never throws; bytes after the last record are ignored, like most servers do.
 */
export function parseQuery(payload) {
    if (payload.length < HEADER_SIZE) {
        return queryError(dnsError('short-header', `${payload.length} bytes are too few for a DNS header`), undefined);
    }
    if (header.isResponse(payload)) {
        return queryError(dnsError('wrong-direction', 'a response (QR set) where a query was expected'), undefined);
    }
    const id = header.id(payload);
    const base = {
        id,
        opcode: header.opcode(payload),
        recursionDesired: header.recursionDesired(payload),
        checkingDisabled: header.checkingDisabled(payload),
        authoritative: false,
        question: undefined,
        records: [],
        maxSize: UDP_SIZE_WITHOUT_EDNS,
    };
    const body = readBody(payload);
    // An OPT record in a reply to an EDNS query, even an error reply, tells the requestor EDNS was not the problem
    // (dig warns otherwise); there is none to find when the message is unreadable before it.
    const reply = (rcode, question) => encodeMessage({ ...base, rcode, question, edns: body.edns });
    if (base.opcode !== Opcode.QUERY) {
        return queryError(dnsError('opcode', `opcode ${base.opcode} is not implemented (only QUERY)`), reply(Rcode.NOTIMP));
    }
    const count = header.questions(payload);
    if (count !== 1) {
        return queryError(dnsError('question-count', `${count} questions; a query has exactly one`), reply(Rcode.FORMERR));
    }
    const { question, edns, error } = body;
    if (error || !question) {
        return queryError(error ?? dnsError('truncated', 'no question'), reply(Rcode.FORMERR, question?.bytes));
    }
    if (edns && edns.version !== 0) {
        const error = dnsError('edns-version', `EDNS version ${edns.version} is not supported (only 0)`);
        // RFC 6891 §6.1.3: BADVERS, with our OPT record saying which version we speak.
        return queryError(error, reply(Rcode.BADVERS, question.bytes));
    }
    return {
        ok: true,
        value: {
            id,
            recursionDesired: base.recursionDesired,
            checkingDisabled: base.checkingDisabled,
            question: question.value,
            edns,
            questionBytes: question.bytes,
        },
    };
}
/**
 * A query for `name` (normalised first; an invalid name is an error, not a query) of type `type`, class IN; for the
 * gateway resolving resource names and the forwarder's own queries. Throws RangeError for an id or type over 16 bits.
 */
export function buildQuery(id, name, type, options = {}) {
    check16('id', id);
    check16('type', type);
    const normal = normalizeName(name);
    if (!normal.ok)
        return normal;
    const wireName = encodeName(normal.value);
    const udpSize = options.udpSize ?? ADVERTISED_UDP_SIZE;
    const out = allocate(HEADER_SIZE + wireName.length + 4 + (udpSize === false ? 0 : OPT_SIZE));
    put16(out, 0, id);
    out[2] = options.recursionDesired === false ? 0 : 0x01;
    out[5] = 1;
    out[11] = udpSize === false ? 0 : 1;
    out.set(wireName, HEADER_SIZE);
    let pos = put16(out, HEADER_SIZE + wireName.length, type);
    pos = put16(out, pos, DnsClass.IN);
    if (udpSize !== false) {
        // Root owner (the zero byte at `pos`), type OPT, UDP size, extended rcode 0, version 0, DO, no options.
        put16(out, pos + 1, DnsType.OPT);
        put16(out, pos + 3, udpSize);
        out[pos + 7] = options.dnssecOk ? 0x80 : 0;
    }
    return { ok: true, value: out };
}
/** Reads every section as the header counts them: the first question, then the OPT record if there is one. */
function readBody(payload) {
    let pos = HEADER_SIZE;
    let question;
    for (let i = 0; i < header.questions(payload); i++) {
        const read = readQuestion(payload, pos);
        if ('kind' in read)
            return { question, error: read };
        question ??= { value: read.question, bytes: payload.subarray(pos, read.end) };
        pos = read.end;
    }
    const skipped = walkRecords(payload, pos, header.answers(payload) + header.authorities(payload));
    if (typeof skipped !== 'number')
        return { question, error: skipped };
    const additionals = readAdditionals(payload, skipped, header.additionals(payload));
    if ('kind' in additionals)
        return { question, error: additionals };
    return { question, edns: additionals.edns };
}
function queryError(error, reply) {
    return { ok: false, error: { ...error, reply } };
}
function check16(what, value) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff)
        throw new RangeError(`query ${what} ${value} is not 16 bits`);
}
//# sourceMappingURL=query.js.map