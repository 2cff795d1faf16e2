import { describe, expect, it } from 'vitest';
import { PacketBudget, PacketBuffer } from './packet-buffer.js';

/** Test packets: byte 0 is an id; byte 1 set means "a SYN", deduplicated by byte 2. */
function packet(id: number, synKey?: number, size = 100): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes[0] = id;
  if (synKey !== undefined) {
    bytes[1] = 1;
    bytes[2] = synKey;
  }
  return bytes;
}
const dedupe = (p: Uint8Array): string | undefined => (p[1] === 1 ? `syn-${p[2]}` : undefined);

describe('PacketBuffer', () => {
  it('keeps at most `capacity` packets, dropping the oldest', () => {
    const buffer = new PacketBuffer(128, new PacketBudget(1 << 20), dedupe);
    for (let i = 0; i < 200; i++) buffer.push(packet(i % 256));
    expect(buffer.length).toBe(128);
    expect(buffer.dropped).toBe(72);
    const drained = buffer.drain();
    expect(drained.map((p) => p[0])).toEqual(Array.from({ length: 128 }, (_, i) => 72 + i));
    expect(buffer.length).toBe(0);
  });

  it('collapses duplicate SYNs and accepts the same SYN again once the first left the buffer', () => {
    const buffer = new PacketBuffer(2, new PacketBudget(1 << 20), dedupe);
    expect(buffer.push(packet(1, 7))).toBe('buffered');
    expect(buffer.push(packet(2, 7))).toBe('duplicate');
    expect(buffer.push(packet(3, 8))).toBe('buffered');
    expect(buffer.length).toBe(2);
    expect(buffer.push(packet(4))).toBe('buffered_dropped_oldest');
    // The first SYN was evicted: a retransmission of it is new again.
    expect(buffer.push(packet(5, 7))).toBe('buffered_dropped_oldest');
    expect(buffer.drain().map((p) => p[0])).toEqual([4, 5]);
    expect(buffer.push(packet(6, 8))).toBe('buffered');
  });

  it('copies packets so a reused read buffer cannot change them', () => {
    const buffer = new PacketBuffer(4, new PacketBudget(1 << 20), dedupe);
    const bytes = packet(1);
    buffer.push(bytes);
    bytes[0] = 99;
    expect(buffer.drain()[0]![0]).toBe(1);
  });

  it('shares a byte budget between buffers', () => {
    const budget = new PacketBudget(1000);
    const a = new PacketBuffer(128, budget, dedupe);
    const b = new PacketBuffer(128, budget, dedupe);
    for (let i = 0; i < 8; i++) a.push(packet(i));
    expect(budget.usedBytes).toBe(800);
    expect(b.push(packet(50))).toBe('buffered');
    expect(b.push(packet(51))).toBe('buffered');
    // Full: b makes room by dropping its own oldest, never another buffer's packets.
    expect(b.push(packet(52))).toBe('buffered_dropped_oldest');
    expect(a.length).toBe(8);
    expect(budget.usedBytes).toBe(1000);
    // A buffer with nothing of its own to drop refuses the packet.
    const c = new PacketBuffer(128, budget, dedupe);
    expect(c.push(packet(60))).toBe('over_budget');
    expect(c.dropped).toBe(1);
    a.clear();
    b.drain();
    expect(budget.usedBytes).toBe(0);
  });
});
