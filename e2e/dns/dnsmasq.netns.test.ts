import type { Socket as UdpSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatIp } from '../../protocol/ip.js';
import {
  DnsTcpReassembler,
  DnsType,
  Rcode,
  buildQuery,
  frameTcpMessage,
  inspectResponse,
  messageId,
  parseQuery,
  sameQuestion,
  setMessageId,
  typeName,
  type DnsResponseInfo,
  type QueryOptions,
} from '../../tunnel/dns/index.js';
import { Namespace, netnsUnavailableReason, type BackgroundProcess } from '../netns/index.js';
import { CAPTURE_FIXTURES, writeFixtures, type CapturedMessage } from './fixtures.js';
import { NamespaceSockets } from './namespace-sockets.js';
import { installed } from './tools.js';

/**
 * The response inspector and the TCP reassembler against dnsmasq (the private DNS of later system tests and the
 * speed reference): queries built with `buildQuery` go to dnsmasq in a namespace over UDP and TCP, its responses are
 * read with `inspectResponse`. With POSTERN_CAPTURE_DNS_FIXTURES=1 they are written to
 * tunnel/dns/fixtures/dnsmasq-responses.ts for the unit tests and fuzzers.
 */

const skip = netnsUnavailableReason() ?? (installed('dnsmasq', ['--version']) ? undefined : 'dnsmasq is not installed');
if (skip) console.warn(`skipping e2e/dns dnsmasq tests: ${skip}`);

const BIG = Array.from({ length: 60 }, (_, n) => `10.2.0.${n + 1}`);

const DNSMASQ_ARGS = [
  '--keep-in-foreground',
  '--conf-file=/dev/null',
  '--no-resolv',
  '--no-hosts',
  '--pid-file=',
  '--user=root',
  '--listen-address=127.0.0.1',
  '--bind-interfaces',
  '--port=53',
  '--log-facility=-',
  '--local=/site.test/',
  '--local-ttl=300',
  '--host-record=web.site.test,10.1.0.1,fd01::1',
  '--host-record=web.site.test,10.1.0.2,fd01::2',
  '--cname=www.site.test,web.site.test',
  '--cname=deep.site.test,www.site.test',
  '--txt-record=web.site.test,hello',
  '--mx-host=site.test,web.site.test,10',
  ...BIG.map((address) => `--host-record=big.site.test,${address}`),
];

describe.skipIf(skip)('tunnel/dns reading dnsmasq responses in a namespace', () => {
  let ns: Namespace;
  let sockets: NamespaceSockets;
  let dnsmasq: BackgroundProcess;
  let udp: UdpSocket;
  const captured: CapturedMessage[] = [];
  let nextId = 0x4000;

  beforeAll(async () => {
    ns = await Namespace.create('dnsmasq');
    dnsmasq = ns.spawn('dnsmasq', 'dnsmasq', DNSMASQ_ARGS);
    await dnsmasq.waitForOutput(/started, version/);
    sockets = NamespaceSockets.start(ns);
    udp = await sockets.udp('udp4', '127.0.0.1', 0);
  });

  afterAll(async () => {
    udp?.close();
    await sockets?.stop();
    await dnsmasq?.stop();
    await ns?.destroy();
    if (CAPTURE_FIXTURES)
      writeFixtures('dnsmasq-responses.ts', 'DNSMASQ_RESPONSES', 'e2e/dns/dnsmasq.netns.test.ts', captured);
  });

  function query(name: string, type: number, options?: QueryOptions): Uint8Array {
    const built = buildQuery(nextId++, name, type, options);
    if (!built.ok) throw new Error(built.error.message);
    return built.value;
  }

  function inspect(label: string, transport: 'udp' | 'tcp', response: Uint8Array): DnsResponseInfo {
    captured.push({ label, transport, hex: Buffer.from(response).toString('hex') });
    const result = inspectResponse(response);
    if (!result.ok) throw new Error(`${label}: ${result.error.message}`);
    return result.value;
  }

  async function askUdp(name: string, type: number, options?: QueryOptions): Promise<DnsResponseInfo> {
    const message = query(name, type, options);
    const response = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dnsmasq did not answer ${name}:\n${dnsmasq.text}`)), 5000);
      udp.once('message', (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      udp.send(message, 53, '127.0.0.1');
    });
    const label = `dnsmasq: ${name} ${typeName(type)}${options ? ` ${JSON.stringify(options)}` : ''}`;
    const info = inspect(label, 'udp', response);
    expect(info.id).toBe(messageId(message));
    const asked = parseQuery(message);
    expect(asked.ok && info.question && sameQuestion(asked.value.question, info.question)).toBe(true);
    return info;
  }

  const addresses = (info: DnsResponseInfo) => info.addresses.map((a) => formatIp(a.address)).sort();

  it('reads A and AAAA answers with their TTLs', async () => {
    const a = await askUdp('web.site.test', DnsType.A);
    expect(a.rcode).toBe(Rcode.NOERROR);
    expect(a.authoritative).toBe(true);
    expect(addresses(a)).toEqual(['10.1.0.1', '10.1.0.2']);
    expect(a.addresses.every((x) => x.ttl === 300)).toBe(true);
    expect(a.edns?.version).toBe(0);
    const aaaa = await askUdp('web.site.test', DnsType.AAAA);
    expect(addresses(aaaa)).toEqual(['fd01::1', 'fd01::2']);
  });

  it('follows a chain of CNAMEs to the addresses', async () => {
    const info = await askUdp('deep.site.test', DnsType.A);
    expect(info.answers.map((a) => [a.name, a.type, a.target])).toEqual([
      ['deep.site.test', DnsType.CNAME, 'www.site.test'],
      ['www.site.test', DnsType.CNAME, 'web.site.test'],
      ['web.site.test', DnsType.A, undefined],
      ['web.site.test', DnsType.A, undefined],
    ]);
    expect(addresses(info)).toEqual(['10.1.0.1', '10.1.0.2']);
  });

  it('reads NXDOMAIN and records of other types, without addresses', async () => {
    const missing = await askUdp('nothing.site.test', DnsType.A);
    expect(missing.rcode).toBe(Rcode.NXDOMAIN);
    expect(missing.addresses).toEqual([]);
    const txt = await askUdp('web.site.test', DnsType.TXT);
    expect(txt.answers.map((a) => a.type)).toEqual([DnsType.TXT]);
    expect(txt.addresses).toEqual([]);
    const mx = await askUdp('site.test', DnsType.MX);
    expect(mx.answers.map((a) => a.type)).toEqual([DnsType.MX]);
    const ptr = await askUdp('1.0.1.10.in-addr.arpa', DnsType.PTR);
    expect(ptr.answers.map((a) => a.type)).toEqual([DnsType.PTR]);
  });

  it('sees TC when dnsmasq truncates a UDP answer for a requestor without EDNS', async () => {
    const info = await askUdp('big.site.test', DnsType.A, { udpSize: false });
    expect(info.truncated).toBe(true);
    expect(info.edns).toBeUndefined();
  });

  it('reassembles TCP responses: two queries in one write, a 60-record answer', async () => {
    const connection = await sockets.tcpConnect('127.0.0.1', 53);
    const reassembler = new DnsTcpReassembler();
    const responses: Uint8Array[] = [];
    const done = new Promise<void>((resolve, reject) => {
      connection.on('data', (chunk: Buffer) => {
        reassembler.push(chunk);
        for (let m = reassembler.pollMessage(); m; m = reassembler.pollMessage()) responses.push(m);
        if (responses.length === 2) resolve();
      });
      connection.on('error', reject);
      setTimeout(() => reject(new Error(`only ${responses.length} TCP responses:\n${dnsmasq.text}`)), 5000);
    });
    const queries = [query('big.site.test', DnsType.A), query('web.site.test', DnsType.AAAA)];
    connection.write(Buffer.concat(queries.map(frameTcpMessage)));
    await done;
    connection.destroy();
    const infos = responses.map((r) =>
      inspect('dnsmasq: big.site.test A and web.site.test AAAA in one TCP write', 'tcp', r),
    );
    expect(infos.map((i) => i.id).sort()).toEqual(queries.map((q) => messageId(q)).sort());
    const big = infos.find((i) => i.question?.name === 'big.site.test')!;
    expect(big.truncated).toBe(false);
    expect(addresses(big)).toEqual([...BIG].sort());
    expect(reassembler.finish()).toBeUndefined();
  });

  it('rewrites the id of a forwarded response back to the requestor’s', async () => {
    const info = await askUdp('web.site.test', DnsType.A);
    const response = Buffer.from(captured.at(-1)!.hex, 'hex');
    setMessageId(response, 0xbeef);
    const rewritten = inspectResponse(response);
    expect(rewritten).toMatchObject({ ok: true, value: { id: 0xbeef, question: info.question } });
  });
});
