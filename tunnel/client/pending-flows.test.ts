import { describe, expect, it } from 'vitest';
import { PacketBudget } from './packet-buffer.js';
import { PendingFlows } from './pending-flows.js';

const flows = () =>
  new PendingFlows({
    retryIntervalMs: 2000,
    bufferCapacity: 128,
    budget: new PacketBudget(1 << 22),
    dedupeKey: (p) => (p[1] === 1 ? `syn-${p[2]}` : undefined),
  });
const pkt = (id: number, syn?: number) => new Uint8Array([id, syn === undefined ? 0 : 1, syn ?? 0]);

describe('PendingFlows', () => {
  it('asks once per 2 s per resource while packets keep coming', () => {
    const f = flows();
    const verdicts: string[] = [];
    // A packet every 100 ms for 10 s: requests at 0, 2000, 4000, 6000, 8000.
    for (let t = 0; t < 10_000; t += 100) verdicts.push(f.handlePacket('r1', pkt(t % 200), t));
    expect(verdicts.filter((v) => v === 'request')).toHaveLength(5);
    expect(verdicts[0]).toBe('request');
    expect(verdicts[20]).toBe('request');
    expect(verdicts[19]).toBe('buffered');
    // Another resource has its own throttle.
    expect(f.handlePacket('r2', pkt(1), 100)).toBe('request');
    expect(f.size).toBe(2);
  });

  it('buffers at most 128 packets, oldest dropped, SYN retransmissions once, and hands them over in order', () => {
    const f = flows();
    f.handlePacket('r1', pkt(0, 9), 0);
    f.handlePacket('r1', pkt(0, 9), 1000);
    f.handlePacket('r1', pkt(0, 9), 3000);
    for (let i = 1; i <= 200; i++) f.handlePacket('r1', pkt(i % 256), 3000 + i);
    const packets = f.take('r1');
    expect(packets).toHaveLength(128);
    expect(packets[0]![0]).toBe(73);
    expect(packets.at(-1)![0]).toBe(200);
    expect(f.droppedPackets).toBe(73);
    expect(f.size).toBe(0);
    expect(f.take('r1')).toEqual([]);
  });

  it('after a refusal answers packets at once for 2 s, then asks again', () => {
    const f = flows();
    f.handlePacket('r1', pkt(1), 0);
    f.handlePacket('r1', pkt(2), 500);
    expect(f.refuse('r1', 1000).map((p) => p[0])).toEqual([1, 2]);
    expect(f.handlePacket('r1', pkt(3), 2999)).toBe('refused');
    expect(f.handlePacket('r1', pkt(4), 3000)).toBe('request');
    expect(f.handlePacket('r1', pkt(5), 3001)).toBe('buffered');
    expect(f.take('r1').map((p) => p[0])).toEqual([4, 5]);
  });

  it('forgets removed resources and their packets', () => {
    const f = flows();
    f.handlePacket('r1', pkt(1), 0);
    f.handlePacket('r2', pkt(1), 0);
    f.remove('r1');
    expect(f.size).toBe(1);
    expect(f.take('r1')).toEqual([]);
    f.clear();
    expect(f.size).toBe(0);
    expect(f.droppedPackets).toBe(2);
  });
});
