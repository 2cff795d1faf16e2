import { HEADER_SIZE } from './constants.js';
import { dnsError } from './result.js';
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
export const MAX_NAME_TEXT = 253;
export const MAX_LABEL = 63;
const MAX_NAME_WIRE = 255;
/**
 * Normalises a name a person typed or config holds: lower-cases ASCII, strips one final dot (`.` alone is the root)
 * and rejects empty labels, labels over 63 bytes, names over 253, and characters other than printable ASCII (spaces,
 * controls, `\` and non-ASCII — write internationalised names in punycode).
 */
export function normalizeName(text) {
    const fail = (why) => ({
        ok: false,
        error: dnsError('invalid-name', `invalid DNS name ${JSON.stringify(text)}: ${why}`),
    });
    if (text === '.')
        return { ok: true, value: '.' };
    const name = text.endsWith('.') ? text.slice(0, -1) : text;
    if (name.length === 0)
        return fail('the name is empty');
    for (let i = 0; i < name.length; i++) {
        const c = name.charCodeAt(i);
        if (c > 0x7e)
            return fail('non-ASCII character; write internationalised names in punycode (xn--…)');
        if (c <= 0x20 || c === BACKSLASH)
            return fail(`character ${JSON.stringify(name[i])} is not allowed`);
    }
    if (name.length > MAX_NAME_TEXT)
        return fail(`longer than ${MAX_NAME_TEXT} characters`);
    for (const label of name.split('.')) {
        if (label.length === 0)
            return fail('empty label (two dots in a row, or a dot at the start)');
        if (label.length > MAX_LABEL)
            return fail(`label "${label.slice(0, 20)}…" is longer than ${MAX_LABEL} bytes`);
    }
    return { ok: true, value: name.toLowerCase() };
}
/**
 * Reads a name from a DNS message at `offset`, following compression pointers. A pointer must point strictly before
 * the label sequence it appears in (which bounds the walk, so loops are impossible) and after the header (so a
 * query's question name, the first name in a message, can never be compressed).
 */
export function readName(message, offset) {
    let pos = offset;
    let segmentStart = offset;
    let end = -1;
    let wireLength = 1;
    let name = '';
    for (;;) {
        if (pos >= message.length)
            return dnsError('truncated', `the name at byte ${offset} runs past the end`);
        const length = message[pos];
        if (length === 0) {
            pos += 1;
            break;
        }
        if ((length & 0xc0) === 0xc0) {
            if (pos + 1 >= message.length)
                return dnsError('truncated', `the name at byte ${offset} runs past the end`);
            const target = ((length & 0x3f) << 8) | message[pos + 1];
            if (target < HEADER_SIZE || target >= segmentStart) {
                return dnsError('bad-name', `the name at byte ${offset} has a pointer to ${target} that is not backwards`);
            }
            if (end < 0)
                end = pos + 2;
            pos = segmentStart = target;
            continue;
        }
        if (length > MAX_LABEL) {
            return dnsError('bad-name', `the name at byte ${offset} has an unknown label type 0x${length.toString(16)}`);
        }
        if (pos + 1 + length > message.length) {
            return dnsError('truncated', `the name at byte ${offset} runs past the end`);
        }
        wireLength += 1 + length;
        if (wireLength > MAX_NAME_WIRE)
            return dnsError('bad-name', `the name at byte ${offset} is over 255 bytes`);
        if (name.length > 0)
            name += '.';
        name += labelText(message, pos + 1, pos + 1 + length);
        pos += 1 + length;
    }
    return { name: name.length === 0 ? '.' : name, end: end < 0 ? pos : end };
}
/**
 * A name in normal form (as `normalizeName` or `readName` return it, escapes included) as wire-format labels. Throws
 * for a name that is not in normal form: names reaching the encoder come from the parsers or from validated config.
 */
export function encodeName(name) {
    const out = new Uint8Array(MAX_NAME_WIRE + 1);
    let pos = 0;
    if (name !== '.') {
        let lengthAt = 0;
        pos = 1;
        const closeLabel = () => {
            const length = pos - lengthAt - 1;
            if (length === 0 || length > MAX_LABEL)
                throw new Error(`cannot encode DNS name ${JSON.stringify(name)}`);
            out[lengthAt] = length;
            lengthAt = pos++;
        };
        for (let i = 0; i < name.length; i++) {
            const c = name.charCodeAt(i);
            if (c === DOT) {
                closeLabel();
            }
            else if (c === BACKSLASH) {
                const digits = name.slice(i + 1, i + 4);
                if (/^[0-9]{3}$/.test(digits) && Number(digits) <= 255) {
                    out[pos++] = Number(digits);
                    i += 3;
                }
                else if (i + 1 < name.length) {
                    out[pos++] = name.charCodeAt(++i);
                }
                else {
                    throw new Error(`cannot encode DNS name ${JSON.stringify(name)}: it ends in a lone backslash`);
                }
            }
            else if (c > 0x20 && c <= 0x7e) {
                out[pos++] = c;
            }
            else {
                throw new Error(`cannot encode DNS name ${JSON.stringify(name)}: character ${c} needs an escape`);
            }
            if (pos >= MAX_NAME_WIRE)
                throw new Error(`cannot encode DNS name ${JSON.stringify(name)}: over 255 bytes`);
        }
        closeLabel();
        pos = lengthAt;
    }
    out[pos++] = 0;
    return out.subarray(0, pos);
}
// ---------------------------------------------------------------------------------------------------------------
const DOT = 0x2e;
const BACKSLASH = 0x5c;
function labelText(bytes, start, end) {
    let text = '';
    for (let i = start; i < end; i++) {
        const c = bytes[i];
        if (c >= 0x41 && c <= 0x5a)
            text += String.fromCharCode(c + 0x20);
        else if (c === DOT || c === BACKSLASH)
            text += `\\${String.fromCharCode(c)}`;
        else if (c > 0x20 && c <= 0x7e)
            text += String.fromCharCode(c);
        else
            text += `\\${c.toString().padStart(3, '0')}`;
    }
    return text;
}
//# sourceMappingURL=name.js.map