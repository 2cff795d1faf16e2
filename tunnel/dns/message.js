import { DnsType } from './constants.js';
import { readName } from './name.js';
import { dnsError } from './result.js';
/** Header fields by position: counts, flags. */
export const header = {
    id: (m) => (m[0] << 8) | m[1],
    isResponse: (m) => (m[2] & 0x80) !== 0,
    opcode: (m) => (m[2] >> 3) & 0x0f,
    authoritative: (m) => (m[2] & 0x04) !== 0,
    truncated: (m) => (m[2] & 0x02) !== 0,
    recursionDesired: (m) => (m[2] & 0x01) !== 0,
    recursionAvailable: (m) => (m[3] & 0x80) !== 0,
    authenticData: (m) => (m[3] & 0x20) !== 0,
    checkingDisabled: (m) => (m[3] & 0x10) !== 0,
    rcode: (m) => m[3] & 0x0f,
    questions: (m) => (m[4] << 8) | m[5],
    answers: (m) => (m[6] << 8) | m[7],
    authorities: (m) => (m[8] << 8) | m[9],
    additionals: (m) => (m[10] << 8) | m[11],
};
export function readQuestion(message, offset) {
    const name = readName(message, offset);
    if ('kind' in name)
        return name;
    if (name.end + 4 > message.length)
        return dnsError('truncated', `the question at byte ${offset} is cut short`);
    const question = { name: name.name, type: u16(message, name.end), class: u16(message, name.end + 2) };
    return { question, end: name.end + 4 };
}
/** Reads one resource record's fixed part and checks its data lies inside the message. */
export function readRecord(message, offset) {
    const name = readName(message, offset);
    if ('kind' in name)
        return name;
    const fixed = name.end;
    if (fixed + 10 > message.length)
        return dnsError('truncated', `the record at byte ${offset} is cut short`);
    const dataStart = fixed + 10;
    const dataEnd = dataStart + u16(message, fixed + 8);
    if (dataEnd > message.length)
        return dnsError('truncated', `the data of the record at byte ${offset} is cut short`);
    const ttl = ((message[fixed + 4] << 24) | (message[fixed + 5] << 16) | u16(message, fixed + 6)) >>> 0;
    return { name: name.name, type: u16(message, fixed), class: u16(message, fixed + 2), ttl, dataStart, dataEnd };
}
/**
 * Walks `count` records from `offset`, calling `visit` for each, and returns where they end. The OPT record of the
 * additional section is found this way too (`additionalEdns`).
 */
export function walkRecords(message, offset, count, visit) {
    let pos = offset;
    for (let i = 0; i < count; i++) {
        const record = readRecord(message, pos);
        if ('kind' in record)
            return record;
        const problem = visit?.(record);
        if (problem)
            return problem;
        pos = record.dataEnd;
    }
    return pos;
}
/** Reads the additional section: its OPT record if any (at most one, owned by the root, options well-formed). */
export function readAdditionals(message, offset, count) {
    let edns;
    const end = walkRecords(message, offset, count, (record) => {
        if (record.type !== DnsType.OPT)
            return undefined;
        if (edns)
            return dnsError('bad-edns', 'more than one OPT record');
        if (record.name !== '.')
            return dnsError('bad-edns', `the OPT record is owned by "${record.name}", not the root`);
        for (let pos = record.dataStart; pos < record.dataEnd;) {
            if (pos + 4 > record.dataEnd || pos + 4 + u16(message, pos + 2) > record.dataEnd) {
                return dnsError('bad-edns', `the OPT option at byte ${pos} overruns the record`);
            }
            pos += 4 + u16(message, pos + 2);
        }
        edns = {
            udpSize: record.class,
            extendedRcode: record.ttl >>> 24,
            version: (record.ttl >>> 16) & 0xff,
            dnssecOk: (record.ttl & 0x8000) !== 0,
        };
        return undefined;
    });
    if (typeof end !== 'number')
        return end;
    return { edns, end };
}
/** An OPT record without options: root owner, type, UDP size, extended rcode, version, flags, data length. */
export const OPT_SIZE = 11;
export function u16(bytes, offset) {
    return (bytes[offset] << 8) | bytes[offset + 1];
}
export function put16(out, pos, value) {
    out[pos] = value >> 8;
    out[pos + 1] = value;
    return pos + 2;
}
export function put32(out, pos, value) {
    out[pos] = value >>> 24;
    out[pos + 1] = value >>> 16;
    out[pos + 2] = value >>> 8;
    out[pos + 3] = value;
    return pos + 4;
}
//# sourceMappingURL=message.js.map