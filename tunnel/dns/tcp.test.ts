import { describe, expect, it } from 'vitest';
import { bytesOf } from './fixtures/captured.js';
import { DIG_QUERIES } from './fixtures/dig-queries.js';
import { DnsTcpReassembler, frameTcpMessage } from './tcp.js';

const messages = DIG_QUERIES.slice(0, 3).map(bytesOf);
const stream = Uint8Array.from(messages.flatMap((m) => [...frameTcpMessage(m)]));

function drain(reassembler: DnsTcpReassembler): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let m = reassembler.pollMessage(); m; m = reassembler.pollMessage()) out.push(m);
  return out;
}

describe('DnsTcpReassembler', () => {
  it('splits several messages out of one segment', () => {
    const reassembler = new DnsTcpReassembler();
    reassembler.push(stream);
    expect(drain(reassembler)).toEqual(messages);
    expect(reassembler.bufferedBytes).toBe(0);
    expect(reassembler.finish()).toBeUndefined();
  });

  it('joins a message split at every possible point, the length prefix included', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const reassembler = new DnsTcpReassembler();
      reassembler.push(stream.subarray(0, cut));
      const first = drain(reassembler);
      reassembler.push(stream.subarray(cut));
      expect([...first, ...drain(reassembler)]).toEqual(messages);
    }
  });

  it('copes with one byte at a time', () => {
    const reassembler = new DnsTcpReassembler();
    const out: Uint8Array[] = [];
    for (const byte of stream) {
      reassembler.push(Uint8Array.of(byte));
      out.push(...drain(reassembler));
    }
    expect(out).toEqual(messages);
  });

  it('returns a zero-length message as empty bytes, for parseQuery to reject', () => {
    const reassembler = new DnsTcpReassembler();
    reassembler.push(Uint8Array.of(0, 0, 0, 1, 0xaa));
    expect(drain(reassembler)).toEqual([new Uint8Array(0), Uint8Array.of(0xaa)]);
  });

  it('reports a stream that ends inside a message', () => {
    const reassembler = new DnsTcpReassembler();
    reassembler.push(stream.subarray(0, 10));
    expect(drain(reassembler)).toEqual([]);
    expect(reassembler.bufferedBytes).toBe(10);
    expect(reassembler.finish()).toMatchObject({
      kind: 'incomplete-frame',
      message: expect.stringContaining('10 bytes'),
    });
  });
});

describe('frameTcpMessage', () => {
  it('prefixes the length', () => {
    expect([...frameTcpMessage(Uint8Array.of(1, 2, 3))]).toEqual([0, 3, 1, 2, 3]);
    expect(frameTcpMessage(new Uint8Array(65535)).subarray(0, 2)).toEqual(Uint8Array.of(0xff, 0xff));
  });

  it('throws for a message TCP cannot carry', () => {
    expect(() => frameTcpMessage(new Uint8Array(65536))).toThrow(RangeError);
  });
});
