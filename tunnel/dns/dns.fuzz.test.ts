import fc from 'fast-check';
import { describe, it } from 'vitest';
import { ip } from '../../protocol/ip.js';
import { Rcode } from './constants.js';
import { bytesOf } from './fixtures/captured.js';
import { DIG_QUERIES } from './fixtures/dig-queries.js';
import { DNSMASQ_RESPONSES } from './fixtures/dnsmasq-responses.js';
import { inspectResponse, sameQuestion } from './inspect.js';
import { parseQuery, type DnsQuery } from './query.js';
import { answerAddresses, answerNoData, answerPtr, maxResponseSize } from './response.js';
import type { DnsErrorKind } from './result.js';
import { DnsTcpReassembler, frameTcpMessage } from './tcp.js';

// Every parser gets random bytes and mutations of messages captured from dig, glibc and dnsmasq: it must return a
// typed error or a value, never throw. `npm run fuzz` scales the runs up with FUZZ_RUNS.
const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);
const KINDS = new Set<DnsErrorKind>([
  'short-header',
  'wrong-direction',
  'opcode',
  'question-count',
  'truncated',
  'bad-name',
  'bad-record',
  'bad-edns',
  'edns-version',
]);
const ERROR_REPLY_RCODES = new Set<number>([Rcode.FORMERR, Rcode.NOTIMP, Rcode.BADVERS]);
const ADDRESSES = [ip('100.96.0.1'), ip('100.96.0.2'), ip('fd00:2021:1111:8000::1')];

const queries = DIG_QUERIES.map(bytesOf);
const responses = DNSMASQ_RESPONSES.map(bytesOf);

describe('parseQuery', () => {
  it(`returns a query or a typed error for ${RUNS} random and mutated inputs`, () => {
    fc.assert(fc.property(inputs(queries), checkQuery), { numRuns: RUNS });
  });
});

describe('inspectResponse', () => {
  it(`returns a response or a typed error for ${RUNS} random and mutated inputs`, () => {
    fc.assert(fc.property(inputs(responses), checkResponse), { numRuns: RUNS });
  });
});

describe('DnsTcpReassembler', () => {
  it(`accounts for every byte of ${RUNS} random streams cut anywhere`, () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), inputs(queries)), { maxLength: 6 }), (chunks) => {
        const reassembler = new DnsTcpReassembler();
        let pushed = 0;
        let framed = 0;
        for (const chunk of chunks) {
          reassembler.push(chunk);
          pushed += chunk.length;
          for (let m = reassembler.pollMessage(); m; m = reassembler.pollMessage()) framed += 2 + m.length;
        }
        const end = reassembler.finish();
        check(framed + reassembler.bufferedBytes === pushed, 'bytes lost or invented');
        check((end === undefined) === (reassembler.bufferedBytes === 0), 'finish disagrees with what is buffered');
        check(end === undefined || end.kind === 'incomplete-frame', 'wrong error kind');
      }),
      { numRuns: RUNS },
    );
  });

  it(`gives back exactly the messages framed, for ${RUNS / 10} streams cut into random pieces`, () => {
    const stream = fc.array(inputs(queries), { minLength: 1, maxLength: 4 });
    const cuts = fc.array(fc.nat(), { maxLength: 8 });
    fc.assert(
      fc.property(stream, cuts, (messages, cutPoints) => {
        const bytes = Uint8Array.from(messages.flatMap((m) => [...frameTcpMessage(m)]));
        const reassembler = new DnsTcpReassembler();
        const out: Uint8Array[] = [];
        let from = 0;
        for (const cut of [...cutPoints.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]) {
          reassembler.push(bytes.subarray(from, Math.max(from, cut)));
          from = Math.max(from, cut);
          for (let m = reassembler.pollMessage(); m; m = reassembler.pollMessage()) out.push(m);
        }
        check(out.length === messages.length, 'wrong number of messages');
        out.forEach((m, i) => check(Buffer.from(m).equals(messages[i]!), `message ${i} differs`));
        check(reassembler.finish() === undefined, 'bytes left over');
      }),
      { numRuns: RUNS / 10 },
    );
  });
});

/** A parsed query must be answerable: every builder's response reads back with the same id and question. */
function checkQuery(bytes: Uint8Array): void {
  const result = parseQuery(bytes);
  if (!result.ok) {
    check(KINDS.has(result.error.kind) && typeof result.error.message === 'string', 'untyped error');
    if (!result.error.reply) return;
    const reply = inspectResponse(result.error.reply);
    check(reply.ok, `unreadable ${result.error.kind} reply`);
    if (!reply.ok) return;
    check(reply.value.id === (bytes[0]! << 8) + bytes[1]!, 'reply id differs');
    check(ERROR_REPLY_RCODES.has(reply.value.rcode), 'wrong reply rcode');
    return;
  }
  const query: DnsQuery = result.value;
  for (const response of [
    answerNoData(query),
    answerAddresses(query, ADDRESSES, 1),
    answerPtr(query, query.question.name, 1),
  ]) {
    check(response.length <= maxResponseSize(query, 'udp'), 'response over the UDP size');
    const read = inspectResponse(response);
    check(read.ok, `unreadable response to ${query.question.name}`);
    if (!read.ok) return;
    check(read.value.id === query.id, 'response id differs');
    check(read.value.question !== undefined && sameQuestion(read.value.question, query.question), 'question differs');
  }
}

function checkResponse(bytes: Uint8Array): void {
  const result = inspectResponse(bytes);
  if (!result.ok) {
    check(KINDS.has(result.error.kind) && typeof result.error.message === 'string', 'untyped error');
    return;
  }
  const { answers, addresses } = result.value;
  check(
    addresses.every((a) => answers.some((r) => r.address === a.address && r.ttl === a.ttl)),
    'an address that is not an answer',
  );
}

/** Random bytes, a real message's header with random bytes after it, or a real message with a few edits. */
function inputs(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const seed = fc.constantFrom(...seeds);
  const edit = fc.record({
    op: fc.constantFrom('flip', 'set', 'delete', 'insert', 'truncate'),
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  });
  const mutated = fc.tuple(seed, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([base, edits]) => {
    let bytes: Uint8Array = base.slice();
    for (const { op, at, value } of edits) {
      const i = at % (bytes.length + 1);
      if (op === 'flip' && i < bytes.length) bytes[i]! ^= 1 << (value % 8);
      if (op === 'set' && i < bytes.length) bytes[i] = value;
      if (op === 'delete') bytes = join(bytes.subarray(0, i), bytes.subarray(i + 1));
      if (op === 'insert') bytes = join(bytes.subarray(0, i), Uint8Array.of(value), bytes.subarray(i));
      if (op === 'truncate') bytes = bytes.subarray(0, i);
    }
    return bytes;
  });
  const headerThenNoise = fc
    .tuple(seed, fc.uint8Array({ maxLength: 300 }))
    .map(([base, noise]) => join(base.subarray(0, 12), noise));
  return fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 600 }), weight: 1 },
    { arbitrary: headerThenNoise, weight: 1 },
    { arbitrary: mutated, weight: 3 },
  );
}

function join(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(what);
}
