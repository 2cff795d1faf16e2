import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { formatIp, ip } from '../../protocol/ip.js';
import { DnsType, Rcode } from './constants.js';
import { bytesOf } from './fixtures/captured.js';
import { DNSMASQ_RESPONSES } from './fixtures/dnsmasq-responses.js';
import { PACKET_OPT } from './fixtures/packet-opt.js';
import { inspectResponse, messageId, sameQuestion, setMessageId, type DnsResponseInfo } from './inspect.js';
import { buildQuery, parseQuery } from './query.js';
import { answerAddresses } from './response.js';

const response = (packet: Partial<dnsPacket.Packet>) =>
  new Uint8Array(
    dnsPacket.encode({
      type: 'response',
      id: 0x7777,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: 'A', name: 'www.example.test' }],
      ...packet,
    }),
  );

function ok(bytes: Uint8Array): DnsResponseInfo {
  const result = inspectResponse(bytes);
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

const addresses = (info: DnsResponseInfo) => info.addresses.map((a) => [formatIp(a.address), a.ttl]);

describe('inspectResponse on responses captured from dnsmasq', () => {
  const byLabel = (label: string) => ok(bytesOf(DNSMASQ_RESPONSES.find((r) => r.label === label)!));

  it('reads every captured response', () => {
    expect(DNSMASQ_RESPONSES.length).toBeGreaterThan(8);
    for (const r of DNSMASQ_RESPONSES) expect(inspectResponse(bytesOf(r)), r.label).toMatchObject({ ok: true });
  });

  it('reads flags, question, addresses with TTLs and EDNS', () => {
    expect(byLabel('dnsmasq: web.site.test A')).toMatchObject({
      opcode: 0,
      rcode: Rcode.NOERROR,
      authoritative: true,
      truncated: false,
      recursionDesired: true,
      recursionAvailable: true,
      question: { name: 'web.site.test', type: DnsType.A, class: 1 },
      edns: { version: 0 },
    });
    expect(addresses(byLabel('dnsmasq: web.site.test A')).sort()).toEqual([
      ['10.1.0.1', 300],
      ['10.1.0.2', 300],
    ]);
    expect(addresses(byLabel('dnsmasq: web.site.test AAAA')).sort()).toEqual([
      ['fd01::1', 300],
      ['fd01::2', 300],
    ]);
  });

  it('follows the CNAME chain, reads NXDOMAIN and TC', () => {
    const deep = byLabel('dnsmasq: deep.site.test A');
    expect(deep.answers.filter((a) => a.type === DnsType.CNAME).map((a) => a.target)).toEqual([
      'www.site.test',
      'web.site.test',
    ]);
    expect(deep.addresses).toHaveLength(2);
    expect(byLabel('dnsmasq: nothing.site.test A').rcode).toBe(Rcode.NXDOMAIN);
    expect(byLabel('dnsmasq: big.site.test A {"udpSize":false}').truncated).toBe(true);
  });
});

describe('inspectResponse on crafted responses', () => {
  it('follows CNAMEs in any order and leaves out addresses of unrelated names', () => {
    const info = ok(
      response({
        answers: [
          { type: 'A', name: 'edge.cdn.test', ttl: 20, data: '192.0.2.10' },
          { type: 'CNAME', name: 'lb.example.test', ttl: 60, data: 'edge.cdn.test' },
          { type: 'CNAME', name: 'WWW.example.test', ttl: 60, data: 'lb.example.test' },
          { type: 'A', name: 'unrelated.test', ttl: 20, data: '198.51.100.1' },
          { type: 'AAAA', name: 'edge.cdn.test', ttl: 30, data: '2001:db8::10' },
          { type: 'TXT', name: 'www.example.test', ttl: 5, data: 'x' },
        ],
      }),
    );
    expect(addresses(info)).toEqual([
      ['192.0.2.10', 20],
      ['2001:db8::10', 30],
    ]);
    expect(info.answers.map((a) => a.type)).toEqual([1, 5, 5, 1, 28, 16]);
    expect(info.answers[2]).toMatchObject({ name: 'www.example.test', target: 'lb.example.test' });
  });

  it('combines the header rcode with the OPT record’s upper bits', () => {
    const badvers = response({
      additionals: [{ ...PACKET_OPT, extendedRcode: 1 }],
    });
    expect(ok(badvers).rcode).toBe(Rcode.BADVERS);
  });

  it('reads a response without question (FORMERR from some servers)', () => {
    expect(ok(response({ questions: [], flags: 1 })).question).toBeUndefined();
  });

  it.each([
    ['a query', () => new Uint8Array(dnsPacket.encode({ type: 'query', id: 1, questions: [] })), 'wrong-direction'],
    ['11 bytes', () => new Uint8Array(11), 'short-header'],
    [
      'two questions',
      () =>
        response({
          questions: [
            { type: 'A', name: 'a.test' },
            { type: 'A', name: 'b.test' },
          ],
        }),
      'question-count',
    ],
    [
      'a cut-off answer',
      () => response({ answers: [{ type: 'A', name: 'a.test', data: '1.2.3.4' }] }).slice(0, -2),
      'truncated',
    ],
    [
      'a 5-byte A record',
      () => {
        const r = response({ answers: [{ type: 'NULL', name: 'a.test', data: Buffer.alloc(5) }] });
        r[r.length - 5 - 9] = 1; // the low byte of the type (before class, TTL, length, 5 data bytes): NULL → A
        return r;
      },
      'bad-record',
    ],
    [
      'a CNAME whose target overruns its data',
      () => {
        const r = response({ answers: [{ type: 'CNAME', name: 'a.test', data: 'b.test' }] });
        r[r.length - 9] = 3; // the data length, 8 → 3
        return r;
      },
      'bad-record',
    ],
  ])('rejects %s', (_, bytes, kind) => {
    expect(inspectResponse(bytes())).toMatchObject({ ok: false, error: { kind } });
  });

  it('reads our own answers back', () => {
    const query = parseQuery((buildQuery(9, 'app.corp.test', DnsType.A) as { value: Uint8Array }).value);
    if (!query.ok) throw new Error(query.error.message);
    const info = ok(answerAddresses(query.value, [ip('100.96.0.1')], 1));
    expect(sameQuestion(info.question!, query.value.question)).toBe(true);
    expect(addresses(info)).toEqual([['100.96.0.1', 1]]);
  });
});

describe('ids and questions', () => {
  it('reads and rewrites the id in place', () => {
    const bytes = response({});
    expect(messageId(bytes)).toBe(0x7777);
    setMessageId(bytes, 0x0102);
    expect(ok(bytes).id).toBe(0x0102);
    expect(messageId(new Uint8Array(1))).toBeUndefined();
    expect(() => setMessageId(new Uint8Array(1), 1)).toThrow(RangeError);
  });

  it('compares questions by normal-form name, type and class', () => {
    const q = { name: 'a.test', type: 1, class: 1 };
    expect(sameQuestion(q, { ...q })).toBe(true);
    expect(sameQuestion(q, { ...q, type: 28 })).toBe(false);
    expect(sameQuestion(q, { ...q, class: 3 })).toBe(false);
    expect(sameQuestion(q, { ...q, name: 'b.test' })).toBe(false);
  });
});
