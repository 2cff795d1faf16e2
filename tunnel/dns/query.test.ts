import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { DnsType } from './constants.js';
import { bytesOf } from './fixtures/captured.js';
import { DIG_QUERIES } from './fixtures/dig-queries.js';
import { PACKET_OPT as OPT } from './fixtures/packet-opt.js';
import { buildQuery, parseQuery, type DnsQuery, type QueryError } from './query.js';

// dns-packet builds the odd queries below and decodes the error replies: an independent codec.

const encode = (packet: dnsPacket.Packet) => new Uint8Array(dnsPacket.encode(packet));
const aQuery = (extra: Partial<dnsPacket.Packet> = {}) =>
  encode({
    type: 'query',
    id: 0x2a2a,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name: 'app.corp.test' }],
    ...extra,
  });

function ok(payload: Uint8Array): DnsQuery {
  const result = parseQuery(payload);
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

function fail(payload: Uint8Array): QueryError {
  const result = parseQuery(payload);
  if (result.ok) throw new Error('parsed');
  return result.error;
}

function replyOf(error: QueryError): dnsPacket.DecodedPacket & { rcode?: string } {
  expect(error.reply).toBeDefined();
  return dnsPacket.decode(Buffer.from(error.reply!));
}

describe('parseQuery on queries captured from dig and glibc', () => {
  const parsed = (label: string) => DIG_QUERIES.filter((q) => q.label === label).map((q) => parseQuery(bytesOf(q)));

  it('parses every captured query that dig meant to be valid', () => {
    const invalid = ['+header-only', '+opcode=status', '+edns=1'];
    const valid = DIG_QUERIES.filter((q) => !invalid.some((flag) => q.label.includes(flag)));
    expect(valid.length).toBeGreaterThan(15);
    for (const q of valid) expect(parseQuery(bytesOf(q)), q.label).toMatchObject({ ok: true });
  });

  it('reads the question, RD and EDNS of a default dig query', () => {
    expect(parsed('dig @127.0.0.1 app.corp.test A')[0]).toMatchObject({
      ok: true,
      value: {
        recursionDesired: true,
        checkingDisabled: false,
        question: { name: 'app.corp.test', type: DnsType.A, class: 1 },
        edns: { udpSize: 1232, dnssecOk: false, version: 0, extendedRcode: 0 },
      },
    });
  });

  it('sees DO (+dnssec), no EDNS (+noedns), a larger size (+bufsize), PTR (-x) and type 65', () => {
    expect(parsed('dig @127.0.0.1 +dnssec app.corp.test A')[0]).toMatchObject({ value: { edns: { dnssecOk: true } } });
    expect(parsed('dig @127.0.0.1 +noedns app.corp.test A')[0]).toMatchObject({ value: { edns: undefined } });
    expect(parsed('dig @127.0.0.1 +bufsize=4096 many.corp.test A')[0]).toMatchObject({
      value: { edns: { udpSize: 4096 } },
    });
    expect(parsed('dig @127.0.0.1 -x 100.96.0.2')[0]).toMatchObject({
      value: { question: { name: '2.0.96.100.in-addr.arpa', type: DnsType.PTR } },
    });
    expect(parsed('dig @127.0.0.1 app.corp.test TYPE65')[0]).toMatchObject({
      value: { question: { type: DnsType.HTTPS } },
    });
  });

  it('normalises the name but keeps the question bytes as asked', () => {
    const [result] = parsed('dig @127.0.0.1 App.CORP.test A');
    expect(result).toMatchObject({ ok: true, value: { question: { name: 'app.corp.test' } } });
    if (!result?.ok) return;
    expect(Buffer.from(result.value.questionBytes).toString('latin1')).toBe(
      '\x03App\x04CORP\x04test\x00\x00\x01\x00\x01',
    );
  });

  it('reads the TCP message and glibc’s EDNS-less A and AAAA queries', () => {
    expect(parsed('dig @127.0.0.1 +tcp app.corp.test A')).toMatchObject([{ ok: true }]);
    const glibc = parsed('getent ahosts app.corp.test');
    expect(glibc.map((r) => r.ok && [r.value.question.type, r.value.edns])).toEqual([
      [DnsType.A, undefined],
      [DnsType.AAAA, undefined],
    ]);
  });

  it('rejects what dig sent to provoke errors, with the reply a server owes', () => {
    const headerOnly = fail(bytesOf(DIG_QUERIES.find((q) => q.label.includes('+header-only'))!));
    expect(headerOnly.kind).toBe('question-count');
    expect(replyOf(headerOnly)).toMatchObject({ rcode: 'FORMERR', questions: [], additionals: [{ type: 'OPT' }] });
    const status = fail(bytesOf(DIG_QUERIES.find((q) => q.label.includes('+opcode=status'))!));
    expect(status.kind).toBe('opcode');
    expect(replyOf(status)).toMatchObject({ rcode: 'NOTIMP', opcode: 'STATUS', additionals: [{ type: 'OPT' }] });
    const edns1 = fail(bytesOf(DIG_QUERIES.find((q) => q.label.includes('+edns=1'))!));
    expect(edns1.kind).toBe('edns-version');
    const badvers = replyOf(edns1);
    expect(badvers.questions).toEqual([{ name: 'app.corp.test', type: 'A', class: 'IN' }]);
    expect(badvers.additionals).toMatchObject([{ type: 'OPT', extendedRcode: 1, ednsVersion: 0 }]);
  });
});

describe('parseQuery on crafted queries', () => {
  it('reads CD and a cleared RD', () => {
    const query = ok(aQuery({ flags: dnsPacket.CHECKING_DISABLED }));
    expect(query).toMatchObject({ id: 0x2a2a, recursionDesired: false, checkingDisabled: true, edns: undefined });
  });

  it('skips records in the answer and authority sections and ignores trailing bytes', () => {
    const withRecords = aQuery({
      answers: [{ type: 'A', name: 'x.test', ttl: 5, data: '192.0.2.1' }],
      authorities: [{ type: 'NS', name: 'test', ttl: 5, data: 'ns.test' }],
      additionals: [{ ...OPT, flag_do: true, flags: dnsPacket.DNSSEC_OK }],
    });
    expect(ok(withRecords).edns?.dnssecOk).toBe(true);
    expect(ok(Uint8Array.from([...aQuery(), 1, 2, 3])).question.name).toBe('app.corp.test');
  });

  it('drops what is too short to answer, and responses', () => {
    expect(fail(new Uint8Array(11))).toMatchObject({ kind: 'short-header', reply: undefined });
    const response = aQuery();
    response[2]! |= 0x80;
    expect(fail(response)).toMatchObject({ kind: 'wrong-direction', reply: undefined });
  });

  it('answers two questions with FORMERR, echoing id and RD', () => {
    const error = fail(
      aQuery({
        questions: [
          { type: 'A', name: 'a.test' },
          { type: 'A', name: 'b.test' },
        ],
      }),
    );
    expect(error.kind).toBe('question-count');
    expect(replyOf(error)).toMatchObject({ id: 0x2a2a, rcode: 'FORMERR', flag_qr: true, flag_rd: true, questions: [] });
  });

  it('answers a second OPT record, or one not owned by the root, with FORMERR and no OPT', () => {
    const twice = fail(aQuery({ additionals: [OPT, OPT] }));
    expect(twice.kind).toBe('bad-edns');
    expect(replyOf(twice)).toMatchObject({ rcode: 'FORMERR', questions: [{ name: 'app.corp.test' }], additionals: [] });
    // An OPT record owned by "x": owner, type 41, class (UDP size) 1232, TTL 0, no data.
    const wrongOwner = Uint8Array.from([...aQuery(), 1, 0x78, 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    wrongOwner[11] = 1;
    expect(fail(wrongOwner).kind).toBe('bad-edns');
  });

  it('rejects an OPT option that overruns the record', () => {
    const query = aQuery({
      additionals: [{ ...OPT, options: [{ code: 12, length: 8 }] }],
    });
    query[query.length - 9] = 20; // the option's length (low byte): 20 bytes in a 12-byte record
    expect(fail(query).kind).toBe('bad-edns');
  });

  it('answers a cut-off or compressed question with FORMERR', () => {
    const whole = aQuery();
    expect(fail(whole.subarray(0, whole.length - 2))).toMatchObject({ kind: 'truncated' });
    const compressed = Uint8Array.from([...whole.subarray(0, 12), 0xc0, 0x0c, 0, 1, 0, 1]);
    const error = fail(compressed);
    expect(error.kind).toBe('bad-name');
    expect(replyOf(error)).toMatchObject({ rcode: 'FORMERR', questions: [] });
  });

  it('answers a query whose records are cut off with FORMERR echoing the question', () => {
    const query = aQuery({ additionals: [OPT] });
    const error = fail(query.subarray(0, query.length - 3));
    expect(error.kind).toBe('truncated');
    expect(replyOf(error)).toMatchObject({ rcode: 'FORMERR', questions: [{ name: 'app.corp.test', type: 'A' }] });
  });
});

describe('buildQuery', () => {
  it('builds what dns-packet and parseQuery read back', () => {
    const built = buildQuery(7, 'Web.Site.Test.', DnsType.AAAA, { dnssecOk: true });
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(dnsPacket.decode(Buffer.from(built.value))).toMatchObject({
      id: 7,
      flag_rd: true,
      questions: [{ name: 'web.site.test', type: 'AAAA', class: 'IN' }],
      additionals: [{ type: 'OPT', udpPayloadSize: 1232, flag_do: true }],
    });
    expect(ok(built.value)).toMatchObject({ id: 7, question: { name: 'web.site.test', type: DnsType.AAAA } });
  });

  it('leaves EDNS out and RD clear when asked', () => {
    const built = buildQuery(0xffff, 'x.test', 65, { udpSize: false, recursionDesired: false });
    if (!built.ok) throw new Error(built.error.message);
    expect(ok(built.value)).toMatchObject({ id: 0xffff, recursionDesired: false, edns: undefined });
    expect(ok(built.value).question.type).toBe(DnsType.HTTPS);
  });

  it('returns the name error for an invalid name and throws for an id or type over 16 bits', () => {
    expect(buildQuery(1, 'a..b', DnsType.A)).toMatchObject({ ok: false, error: { kind: 'invalid-name' } });
    expect(() => buildQuery(1, 'a.b', 65536)).toThrow(RangeError);
    expect(() => buildQuery(65536, 'a.b', 1)).toThrow(RangeError);
  });
});
