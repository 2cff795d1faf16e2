import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { ip, nthAddress, DEFAULT_MAPPED_IPV4_RANGE } from '../../protocol/ip.js';
import { DnsType, Rcode } from './constants.js';
import { buildQuery, parseQuery, type DnsQuery, type QueryOptions } from './query.js';
import { answerAddresses, answerNoData, answerPtr, answerRcode, buildResponse, maxResponseSize } from './response.js';

// Responses are decoded with dns-packet (an independent codec); dig checks them too, in e2e/dns.

const V4 = ['100.96.0.1', '100.96.0.2', '100.96.0.3', '100.96.0.4'].map(ip);
const V6 = ['fd00:2021:1111:8000::1', 'fd00:2021:1111:8000::2'].map(ip);

function query(name: string, type: number, options?: QueryOptions & { cd?: boolean }): DnsQuery {
  const built = buildQuery(0x5151, name, type, options);
  if (!built.ok) throw new Error(built.error.message);
  if (options?.cd) built.value[3] = 0x10;
  // Mixed case on the wire, as a resolver using 0x20 randomisation sends it.
  const q = built.value;
  for (let i = 13; i < 13 + name.length; i += 2) if (q[i]! >= 0x61 && q[i]! <= 0x7a) q[i]! -= 0x20;
  const parsed = parseQuery(q);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

const decode = (bytes: Uint8Array) => dnsPacket.decode(Buffer.from(bytes));

describe('answerAddresses', () => {
  it('answers A with the IPv4 addresses, echoing id, flags and the question as asked', () => {
    const q = query('app.corp.test', DnsType.A);
    const asked = q.question.name.replace(/./g, (c, i) => (i % 2 === 0 ? c.toUpperCase() : c)); // see query()
    expect(decode(answerAddresses(q, [...V4, ...V6], 1))).toMatchObject({
      id: 0x5151,
      type: 'response',
      flag_qr: true,
      flag_aa: true,
      flag_tc: false,
      flag_rd: true,
      flag_ra: true,
      flag_ad: false,
      flag_cd: false,
      rcode: 'NOERROR',
      questions: [{ name: asked, type: 'A', class: 'IN' }],
      answers: V4.map((_, n) => ({ name: asked, type: 'A', class: 'IN', ttl: 1, data: `100.96.0.${n + 1}` })),
      authorities: [],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flag_do: false }],
    });
  });

  it('answers AAAA with the IPv6 addresses, and copies DO and CD', () => {
    const q = query('app.corp.test', DnsType.AAAA, { dnssecOk: true, cd: true });
    const decoded = decode(answerAddresses(q, [...V4, ...V6], 300));
    expect(decoded.answers?.map((a) => [a.type, 'data' in a && a.data, 'ttl' in a && a.ttl])).toEqual([
      ['AAAA', 'fd00:2021:1111:8000::1', 300],
      ['AAAA', 'fd00:2021:1111:8000::2', 300],
    ]);
    expect(decoded.flag_cd).toBe(true);
    expect(decoded.additionals).toMatchObject([{ type: 'OPT', flag_do: true }]);
  });

  it('answers other types, or a family without addresses, with no records', () => {
    expect(decode(answerAddresses(query('app.corp.test', DnsType.HTTPS), V4, 1)).answers).toEqual([]);
    expect(decode(answerAddresses(query('app.corp.test', DnsType.AAAA), V4, 1))).toMatchObject({
      rcode: 'NOERROR',
      answers: [],
    });
  });

  it('leaves the OPT record out when the query had none', () => {
    expect(decode(answerAddresses(query('app.corp.test', DnsType.A, { udpSize: false }), V4, 1)).additionals).toEqual(
      [],
    );
  });
});

describe('the other builders', () => {
  it('answerPtr names the domain', () => {
    const q = query('1.0.96.100.in-addr.arpa', DnsType.PTR);
    expect(decode(answerPtr(q, 'app.corp.test', 1)).answers).toMatchObject([
      { type: 'PTR', ttl: 1, data: 'app.corp.test' },
    ]);
  });

  it('answerNoData is NOERROR without records or SOA', () => {
    expect(decode(answerNoData(query('app.corp.test', DnsType.HTTPS)))).toMatchObject({
      rcode: 'NOERROR',
      flag_aa: true,
      answers: [],
      authorities: [],
    });
  });

  it.each([
    [Rcode.NXDOMAIN, 'NXDOMAIN', true],
    [Rcode.REFUSED, 'REFUSED', false],
    [Rcode.SERVFAIL, 'SERVFAIL', false],
    [Rcode.NOTIMP, 'NOTIMP', false],
    [Rcode.FORMERR, 'FORMERR', false],
  ] as const)('answerRcode %s: AA %s, question echoed', (rcode, name, aa) => {
    expect(decode(answerRcode(query('x.corp.test', DnsType.A), rcode))).toMatchObject({
      rcode: name,
      flag_aa: aa,
      flag_ra: true,
      questions: [{ type: 'A' }],
      answers: [],
    });
  });

  it('buildResponse writes CNAMEs and records of other owners, and AA as told', () => {
    const q = query('alias.corp.test', DnsType.A);
    const response = buildResponse(
      q,
      Rcode.NOERROR,
      [
        { kind: 'cname', target: 'app.corp.test', ttl: 5 },
        { kind: 'address', address: V4[0]!, ttl: 5, owner: 'app.corp.test' },
      ],
      { authoritative: false },
    );
    expect(decode(response)).toMatchObject({
      flag_aa: false,
      answers: [
        { name: expect.stringMatching(/^alias\.corp\.test$/i), type: 'CNAME', data: 'app.corp.test' },
        { name: 'app.corp.test', type: 'A', data: '100.96.0.1' },
      ],
    });
  });

  it('throws for a TTL or a name no parser produces', () => {
    const q = query('app.corp.test', DnsType.A);
    expect(() => answerAddresses(q, V4, -1)).toThrow(RangeError);
    expect(() => answerAddresses(q, V4, 2 ** 31)).toThrow(RangeError);
    expect(() => answerAddresses(q, V4, 0.5)).toThrow(RangeError);
    expect(() => answerPtr(q, 'a..b', 1)).toThrow(/cannot encode/);
  });
});

describe('size limits', () => {
  const many = Array.from({ length: 60 }, (_, n) => nthAddress(DEFAULT_MAPPED_IPV4_RANGE, n));

  it('knows what each requestor accepts', () => {
    expect(maxResponseSize(query('a.test', DnsType.A, { udpSize: false }), 'udp')).toBe(512);
    expect(maxResponseSize(query('a.test', DnsType.A, { udpSize: 100 }), 'udp')).toBe(512);
    expect(maxResponseSize(query('a.test', DnsType.A, { udpSize: 1000 }), 'udp')).toBe(1000);
    expect(maxResponseSize(query('a.test', DnsType.A, { udpSize: 65535 }), 'udp')).toBe(1232);
    expect(maxResponseSize(query('a.test', DnsType.A, { udpSize: false }), 'tcp')).toBe(65535);
  });

  it('sends TC and no records when the answer does not fit, so the requestor retries over TCP', () => {
    const q = query('many.corp.test', DnsType.A, { udpSize: false });
    const truncated = answerAddresses(q, many, 1);
    expect(truncated.length).toBeLessThanOrEqual(512);
    expect(decode(truncated)).toMatchObject({ flag_tc: true, answers: [], questions: [{ type: 'A' }] });
    const overTcp = answerAddresses(q, many, 1, { transport: 'tcp' });
    expect(overTcp.length).toBeGreaterThan(512);
    expect(decode(overTcp)).toMatchObject({ flag_tc: false });
    expect(decode(overTcp).answers).toHaveLength(60);
  });

  it('fits up to the EDNS size, and keeps the OPT record in a truncated answer', () => {
    expect(decode(answerAddresses(query('many.corp.test', DnsType.A), many, 1)).answers).toHaveLength(60);
    const small = query('many.corp.test', DnsType.A, { udpSize: 600 });
    const truncated = answerAddresses(small, [...many, ...many], 1);
    expect(decode(truncated)).toMatchObject({ flag_tc: true, answers: [], additionals: [{ type: 'OPT' }] });
  });
});
