import { readIpv4, readIpv6 } from '../../protocol/ip.js';
import { DnsType, HEADER_SIZE } from './constants.js';
import { header, readAdditionals, readQuestion, walkRecords } from './message.js';
import { readName } from './name.js';
import { dnsError } from './result.js';
/** Reads a response; never throws. Its answer records must be well-formed, the others only need to fit. */
export function inspectResponse(payload) {
    const fail = (error) => ({ ok: false, error });
    if (payload.length < HEADER_SIZE) {
        return fail(dnsError('short-header', `${payload.length} bytes are too few for a DNS header`));
    }
    if (!header.isResponse(payload)) {
        return fail(dnsError('wrong-direction', 'a query (QR clear) where a response was expected'));
    }
    const questionCount = header.questions(payload);
    if (questionCount > 1)
        return fail(dnsError('question-count', `${questionCount} questions; a response has 0 or 1`));
    let pos = HEADER_SIZE;
    let question;
    if (questionCount === 1) {
        const read = readQuestion(payload, pos);
        if ('kind' in read)
            return fail(read);
        question = read.question;
        pos = read.end;
    }
    const answers = [];
    const afterAnswers = walkRecords(payload, pos, header.answers(payload), (record) => {
        const { name, type, ttl } = record;
        const length = record.dataEnd - record.dataStart;
        if (type === DnsType.A || type === DnsType.AAAA) {
            if (length !== (type === DnsType.A ? 4 : 16)) {
                return dnsError('bad-record', `the ${type === DnsType.A ? 'A' : 'AAAA'} record of "${name}" has ${length} bytes`);
            }
            const address = type === DnsType.A ? readIpv4(payload, record.dataStart) : readIpv6(payload, record.dataStart);
            answers.push({ name, type, class: record.class, ttl, address });
        }
        else if (type === DnsType.CNAME) {
            const target = readName(payload, record.dataStart);
            if ('kind' in target)
                return target;
            if (target.end !== record.dataEnd)
                return dnsError('bad-record', `the CNAME of "${name}" does not fill its data`);
            answers.push({ name, type, class: record.class, ttl, target: target.name });
        }
        else {
            answers.push({ name, type, class: record.class, ttl });
        }
        return undefined;
    });
    if (typeof afterAnswers !== 'number')
        return fail(afterAnswers);
    const afterAuthorities = walkRecords(payload, afterAnswers, header.authorities(payload));
    if (typeof afterAuthorities !== 'number')
        return fail(afterAuthorities);
    const additionals = readAdditionals(payload, afterAuthorities, header.additionals(payload));
    if ('kind' in additionals)
        return fail(additionals);
    const edns = additionals.edns;
    return {
        ok: true,
        value: {
            id: header.id(payload),
            opcode: header.opcode(payload),
            rcode: ((edns?.extendedRcode ?? 0) << 4) | header.rcode(payload),
            authoritative: header.authoritative(payload),
            truncated: header.truncated(payload),
            recursionDesired: header.recursionDesired(payload),
            recursionAvailable: header.recursionAvailable(payload),
            authenticData: header.authenticData(payload),
            checkingDisabled: header.checkingDisabled(payload),
            question,
            answers,
            addresses: question ? addressesOf(question.name, answers) : [],
            edns,
        },
    };
}
/** Whether two questions ask the same (names are in normal form, so this is case-insensitive). */
export function sameQuestion(a, b) {
    return a.name === b.name && a.type === b.type && a.class === b.class;
}
/** The message id, or undefined for fewer than 2 bytes. */
export function messageId(message) {
    return message.length < 2 ? undefined : header.id(message);
}
/**
 * Overwrites the message id in place (the forwarder gives each upstream query an id of its own and puts the
 * requestor's back into the response); copy first if the bytes are shared. Throws RangeError for < 2 bytes.
 */
export function setMessageId(message, id) {
    if (message.length < 2)
        throw new RangeError('a DNS message has at least 2 bytes of id');
    message[0] = id >> 8;
    message[1] = id;
}
function addressesOf(name, answers) {
    // The question's name and every name it is an alias of, directly or through a chain of CNAMEs in any order.
    const aliases = new Map();
    for (const answer of answers) {
        if (answer.target === undefined)
            continue;
        const targets = aliases.get(answer.name);
        if (targets)
            targets.push(answer.target);
        else
            aliases.set(answer.name, [answer.target]);
    }
    const names = new Set([name]);
    for (const owner of names)
        for (const target of aliases.get(owner) ?? [])
            names.add(target);
    const addresses = [];
    for (const answer of answers) {
        if (answer.address !== undefined && names.has(answer.name))
            addresses.push({ address: answer.address, ttl: answer.ttl });
    }
    return addresses;
}
//# sourceMappingURL=inspect.js.map