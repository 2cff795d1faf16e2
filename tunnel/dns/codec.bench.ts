import dnsPacket from 'dns-packet';
import { bench, describe } from 'vitest';
import { ip } from '../../protocol/ip.js';
import { PACKET_OPT } from './fixtures/packet-opt.js';
import { answerAddresses, buildQuery, inspectResponse, parseQuery, type DnsQuery } from './index.js';

// The stub resolver's answer path against dns-packet doing the same: `npx vitest bench --run tunnel/dns`.
// The numbers justify writing the query parser and the answer builder by hand (see query.ts, response.ts).

const query = unwrap(buildQuery(0x1234, 'app.corp.example.com', 1));
const queryBuffer = Buffer.from(query);
const parsed: DnsQuery = unwrap(parseQuery(query));
const addresses = ['100.96.0.1', '100.96.0.2', '100.96.0.3', '100.96.0.4', 'fd00::1'].map(ip);
const answer = answerAddresses(parsed, addresses, 1);
const answerBuffer = Buffer.from(answer);
const packetAnswers = ['100.96.0.1', '100.96.0.2', '100.96.0.3', '100.96.0.4'].map((data) => ({
  type: 'A' as const,
  name: 'app.corp.example.com',
  ttl: 1,
  data,
}));

describe('decode a query', () => {
  bench('parseQuery', () => void parseQuery(query));
  bench('dnsPacket.decode', () => void dnsPacket.decode(queryBuffer));
});

describe('encode a 4-record A answer', () => {
  bench('answerAddresses', () => void answerAddresses(parsed, addresses, 1));
  bench('dnsPacket.encode', () => {
    dnsPacket.encode({
      type: 'response',
      id: 0x1234,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: 'A', name: 'app.corp.example.com' }],
      answers: packetAnswers,
      additionals: [PACKET_OPT],
    });
  });
});

describe('decode a 4-record A answer', () => {
  bench('inspectResponse', () => void inspectResponse(answer));
  bench('dnsPacket.decode', () => void dnsPacket.decode(answerBuffer));
});

function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}
