import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAPPED_IPV4_RANGE,
  DEFAULT_MAPPED_IPV6_RANGE,
  formatIp,
  ipFromReverseName,
  nthAddress,
} from '../../protocol/ip.js';
import {
  DnsType,
  Rcode,
  answerAddresses,
  answerNoData,
  answerPtr,
  answerRcode,
  buildResponse,
  parseQuery,
  type DnsQuery,
} from '../../tunnel/dns/index.js';
import { Namespace, netnsUnavailableReason } from '../netns/index.js';
import { CAPTURE_FIXTURES, writeFixtures, type CapturedMessage } from './fixtures.js';
import { NamespaceSockets } from './namespace-sockets.js';
import { installed } from './tools.js';
import { TestDnsServer, type Received, type Transport } from './test-server.js';

/**
 * `tunnel/dns` against dig (a strict parser) and glibc's stub resolver: a server in a namespace, answering with the
 * builders under test, is queried by `dig` over UDP and TCP, with and without EDNS, and the queries dig sent are
 * parsed with `parseQuery` and checked too. With POSTERN_CAPTURE_DNS_FIXTURES=1 the captured queries are written to
 * tunnel/dns/fixtures/dig-queries.ts, the unit tests' and fuzzers' real-world inputs.
 */

const skip =
  netnsUnavailableReason() ??
  (installed('dig', ['-v']) ? undefined : 'dig is not installed (run scripts/setup-system)');
if (skip) console.warn(`skipping e2e/dns dig tests: ${skip}`);

const MAPPED_V4 = [1, 2, 3, 4].map((n) => nthAddress(DEFAULT_MAPPED_IPV4_RANGE, n));
const MAPPED_V6 = [1, 2, 3, 4].map((n) => nthAddress(DEFAULT_MAPPED_IPV6_RANGE, n));
const MANY = Array.from({ length: 60 }, (_, n) => nthAddress(DEFAULT_MAPPED_IPV4_RANGE, 1000 + n));

/** The test's zone, answered the way the client's stub resolver will. */
function respond(payload: Uint8Array, transport: Transport): Uint8Array | undefined {
  const parsed = parseQuery(payload);
  if (!parsed.ok) return parsed.error.reply;
  const query: DnsQuery = parsed.value;
  const { name, type } = query.question;
  const options = { transport };
  switch (name) {
    case 'app.corp.test':
      if (type === DnsType.A || type === DnsType.AAAA) {
        return answerAddresses(query, [...MAPPED_V4, ...MAPPED_V6], 1, options);
      }
      return answerNoData(query, options); // HTTPS and every other type
    case 'many.corp.test':
      return answerAddresses(query, MANY, 1, options);
    case 'alias.corp.test':
      return buildResponse(
        query,
        Rcode.NOERROR,
        [
          { kind: 'cname', target: 'app.corp.test', ttl: 1 },
          { kind: 'address', address: MAPPED_V4[0]!, ttl: 1, owner: 'app.corp.test' },
        ],
        options,
      );
    case 'blocked.corp.test':
      return answerRcode(query, Rcode.REFUSED, options);
    case 'broken.corp.test':
      return answerRcode(query, Rcode.SERVFAIL, options);
  }
  const reverse = type === DnsType.PTR ? ipFromReverseName(name) : undefined;
  if (reverse !== undefined && [...MAPPED_V4, ...MAPPED_V6].includes(reverse)) {
    return answerPtr(query, 'app.corp.test', 1, options);
  }
  return answerRcode(query, Rcode.NXDOMAIN, options);
}

describe.skipIf(skip)('tunnel/dns answering dig in a namespace', () => {
  let ns: Namespace;
  let sockets: NamespaceSockets;
  const server = new TestDnsServer(respond);
  const captured: CapturedMessage[] = [];

  beforeAll(async () => {
    ns = await Namespace.create('dns');
    sockets = NamespaceSockets.start(ns);
    server.serveUdp(await sockets.udp('udp4', '127.0.0.1', 53));
    server.serveUdp(await sockets.udp('udp6', '::1', 53));
    server.serveTcp(await sockets.tcpServer('127.0.0.1', 53));
    ns.writeEtc('resolv.conf', 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n');
  });

  afterAll(async () => {
    server.close();
    await sockets?.stop();
    await ns?.destroy();
    if (CAPTURE_FIXTURES) writeFixtures('dig-queries.ts', 'DIG_QUERIES', 'e2e/dns/dig.netns.test.ts', captured);
  });

  /** Runs dig in the namespace; returns what it printed and the queries the server received meanwhile. */
  async function dig(args: string[]): Promise<{ out: Dig; queries: Received[] }> {
    const from = server.received.length;
    const { stdout } = await ns.exec('dig', ['+tries=1', '+time=3', ...args], { allowFailure: true });
    const queries = capture(`dig ${args.join(' ')}`, from);
    // dig says so when a response does not parse or does not match its query.
    expect(stdout.match(/\bwarning\b|bad packet|malformed|mismatch|unexpected|\berror\b/i)?.[0]).toBeUndefined();
    return { out: parseDig(stdout), queries };
  }

  /** The queries received since `from`, kept for the fixtures file. */
  function capture(label: string, from: number): Received[] {
    const queries = server.received.slice(from);
    for (const q of queries)
      captured.push({ label, transport: q.transport, hex: Buffer.from(q.payload).toString('hex') });
    return queries;
  }

  function parsedQuery(received: Received | undefined): DnsQuery {
    const parsed = parseQuery(received!.payload);
    if (!parsed.ok) throw new Error(parsed.error.message);
    return parsed.value;
  }

  it('answers A with the mapped IPv4 addresses, TTL 1, over UDP with EDNS', async () => {
    const { out, queries } = await dig(['@127.0.0.1', 'app.corp.test', 'A']);
    expect(out.status).toBe('NOERROR');
    expect(out.flags).toEqual(['qr', 'aa', 'rd', 'ra']);
    expect(out.answers).toEqual(MAPPED_V4.map((a) => `app.corp.test. 1 IN A ${formatIp(a)}`));
    expect(out.edns).toBe('version: 0, flags:; udp: 1232');
    expect(queries).toHaveLength(1);
    const query = parsedQuery(queries[0]);
    expect(query.question).toEqual({ name: 'app.corp.test', type: DnsType.A, class: 1 });
    expect(query.recursionDesired).toBe(true);
    expect(query.edns).toMatchObject({ version: 0, dnssecOk: false, udpSize: 1232 });
  });

  it('answers AAAA over IPv6 UDP', async () => {
    const { out } = await dig(['@::1', 'app.corp.test', 'AAAA']);
    expect(out.status).toBe('NOERROR');
    expect(out.answers).toEqual(MAPPED_V6.map((a) => `app.corp.test. 1 IN AAAA ${formatIp(a)}`));
  });

  it('answers over TCP (+tcp)', async () => {
    const { out, queries } = await dig(['@127.0.0.1', '+tcp', 'app.corp.test', 'A']);
    expect(out.status).toBe('NOERROR');
    expect(out.answers).toHaveLength(4);
    expect(queries.map((q) => q.transport)).toEqual(['tcp']);
  });

  it('sees DO with +dnssec and copies it into the OPT record', async () => {
    const { out, queries } = await dig(['@127.0.0.1', '+dnssec', 'app.corp.test', 'A']);
    expect(parsedQuery(queries[0]).edns?.dnssecOk).toBe(true);
    expect(out.edns).toBe('version: 0, flags: do; udp: 1232');
    expect(out.answers).toHaveLength(4);
  });

  it('answers without OPT record when the query has none (+noedns)', async () => {
    const { out, queries } = await dig(['@127.0.0.1', '+noedns', 'app.corp.test', 'A']);
    expect(parsedQuery(queries[0]).edns).toBeUndefined();
    expect(out.edns).toBeUndefined();
    expect(out.answers).toHaveLength(4);
  });

  it('echoes the question in the case it was asked', async () => {
    const { out, queries } = await dig(['@127.0.0.1', 'App.CORP.test', 'A']);
    expect(parsedQuery(queries[0]).question.name).toBe('app.corp.test');
    expect(out.question).toBe('App.CORP.test. IN A');
    expect(out.answers[0]).toMatch(/^App\.CORP\.test\. 1 IN A /);
  });

  it('answers PTR for a mapped address (dig -x), both families', async () => {
    const v4 = await dig(['@127.0.0.1', '-x', formatIp(MAPPED_V4[1]!)]);
    expect(v4.out.answers).toEqual([`2.0.96.100.in-addr.arpa. 1 IN PTR app.corp.test.`]);
    expect(parsedQuery(v4.queries[0]).question.type).toBe(DnsType.PTR);
    const v6 = await dig(['@127.0.0.1', '-x', formatIp(MAPPED_V6[0]!)]);
    expect(v6.out.answers).toHaveLength(1);
    expect(v6.out.answers[0]).toMatch(/\.ip6\.arpa\. 1 IN PTR app\.corp\.test\.$/);
  });

  it('answers HTTPS (type 65) with an empty NOERROR', async () => {
    const { out, queries } = await dig(['@127.0.0.1', 'app.corp.test', 'TYPE65']);
    expect(parsedQuery(queries[0]).question.type).toBe(DnsType.HTTPS);
    expect(out.status).toBe('NOERROR');
    expect(out.counts).toMatch(/ANSWER: 0, AUTHORITY: 0/);
  });

  it('answers a CNAME followed by the target address', async () => {
    const { out } = await dig(['@127.0.0.1', 'alias.corp.test', 'A']);
    expect(out.answers).toEqual([
      'alias.corp.test. 1 IN CNAME app.corp.test.',
      `app.corp.test. 1 IN A ${formatIp(MAPPED_V4[0]!)}`,
    ]);
  });

  it.each([
    ['use-application-dns.net', 'NXDOMAIN', ['qr', 'aa', 'rd', 'ra']],
    ['blocked.corp.test', 'REFUSED', ['qr', 'rd', 'ra']],
    ['broken.corp.test', 'SERVFAIL', ['qr', 'rd', 'ra']],
  ])('answers %s with %s', async (name, status, flags) => {
    const { out } = await dig(['@127.0.0.1', name, 'A']);
    expect(out.status).toBe(status);
    expect(out.flags).toEqual(flags);
    expect(out.question).toBe(`${name}. IN A`);
  });

  it('truncates a UDP answer over 512 bytes without EDNS; dig retries over TCP and gets it all', async () => {
    const ignored = await dig(['@127.0.0.1', '+noedns', '+ignore', 'many.corp.test', 'A']);
    expect(ignored.out.flags).toContain('tc');
    expect(ignored.out.answers).toEqual([]);
    const { out, queries } = await dig(['@127.0.0.1', '+noedns', 'many.corp.test', 'A']);
    expect(queries.map((q) => q.transport)).toEqual(['udp', 'tcp']);
    expect(out.flags).not.toContain('tc');
    expect(out.answers).toHaveLength(60);
  });

  it('fits the same answer into one datagram when EDNS allows 1232 bytes', async () => {
    const { out, queries } = await dig(['@127.0.0.1', '+bufsize=4096', 'many.corp.test', 'A']);
    expect(queries.map((q) => q.transport)).toEqual(['udp']);
    expect(parsedQuery(queries[0]).edns?.udpSize).toBe(4096);
    expect(out.answers).toHaveLength(60);
  });

  it('answers a query without question with FORMERR (+header-only)', async () => {
    const { out } = await dig(['@127.0.0.1', '+header-only']);
    expect(out.status).toBe('FORMERR');
  });

  it('answers another opcode with NOTIMP (+opcode=status)', async () => {
    const { out } = await dig(['@127.0.0.1', '+opcode=status', 'app.corp.test']);
    expect(out.status).toBe('NOTIMP');
  });

  it('answers EDNS version 1 with BADVERS and says it speaks version 0 (+edns=1)', async () => {
    const { out, queries } = await dig(['@127.0.0.1', '+edns=1', '+noednsnegotiation', 'app.corp.test']);
    expect(parseQuery(queries[0]!.payload)).toMatchObject({ ok: false, error: { kind: 'edns-version' } });
    expect(out.status).toBe('BADVERS');
    expect(out.edns).toBe('version: 0, flags:; udp: 1232');
  });

  it("serves glibc's resolver (getent ahosts: parallel A and AAAA over one socket)", async () => {
    const from = server.received.length;
    const { stdout } = await ns.exec('getent', ['ahosts', 'app.corp.test']);
    expect(
      capture('getent ahosts app.corp.test', from)
        .map((q) => parsedQuery(q).question.type)
        .sort(),
    ).toEqual([DnsType.A, DnsType.AAAA]);
    const addresses = new Set(
      stdout
        .split('\n')
        .map((line) => line.split(/\s+/)[0])
        .filter(Boolean),
    );
    expect([...addresses].sort()).toEqual([...MAPPED_V4, ...MAPPED_V6].map(formatIp).sort());
    const { stdout: nothing } = await ns.exec('getent', ['ahosts', 'nothing.corp.test'], { allowFailure: true });
    expect(nothing).toBe('');
  });
});

interface Dig {
  status: string | undefined;
  flags: string[];
  counts: string | undefined;
  question: string | undefined;
  answers: string[];
  edns: string | undefined;
}

/** The parts of dig's output the tests look at; records with their whitespace collapsed. */
function parseDig(text: string): Dig {
  const section = (title: string) => {
    const start = text.indexOf(`;; ${title} SECTION:\n`);
    if (start < 0) return [];
    const body = text.slice(start).split('\n').slice(1);
    return body.slice(0, body.indexOf('')).map((line) => line.replace(/^;/, '').trim().split(/\s+/).join(' '));
  };
  const flagsLine = /;; flags:([^;]*);(.*)/.exec(text);
  return {
    status: /status: ([A-Z]+)/.exec(text)?.[1],
    flags: flagsLine?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [],
    counts: flagsLine?.[2]?.trim(),
    question: section('QUESTION')[0],
    answers: section('ANSWER'),
    edns: /; EDNS: (.*)/.exec(text)?.[1],
  };
}
