import { PacketBuffer, type DedupeKey, type PacketBudget } from './packet-buffer.js';

/**
 * The lazy tunnel's waiting room (seed 001): packets for a resource that has no gateway yet, and the throttle on
 * asking the portal for one.
 *
 * The first packet for a resource without an authorization opens a flow: it is buffered and the caller sends
 * `request_authorization`. Later packets are buffered too (bounded, oldest dropped, SYN retransmissions collapsed)
 * and repeat the request at most once per `retryIntervalMs` — only while packets keep coming, so a resource nobody
 * uses costs nothing. When the portal grants it, the caller takes the packets; when it refuses, they are handed
 * back to be answered with ICMP, and packets in the next `retryIntervalMs` are refused at once instead of asking
 * again.
 */

export type FlowVerdict =
  /** Buffered; send `request_authorization` now. */
  | 'request'
  /** Buffered; a request is already under way. */
  | 'buffered'
  /** The portal refused less than `retryIntervalMs` ago: answer ICMP unreachable. */
  | 'refused';

export interface PendingFlowsOptions {
  retryIntervalMs: number;
  bufferCapacity: number;
  budget: PacketBudget;
  dedupeKey: DedupeKey;
}

interface Flow {
  lastRequestAt: number;
  refused: boolean;
  buffer: PacketBuffer;
}

export class PendingFlows {
  readonly #flows = new Map<string, Flow>();
  #dropped = 0;

  constructor(readonly options: PendingFlowsOptions) {}

  get size(): number {
    return this.#flows.size;
  }

  /** Packets dropped from full buffers or discarded with their flow. */
  get droppedPackets(): number {
    return this.#dropped;
  }

  handlePacket(resourceId: string, packet: Uint8Array, now: number): FlowVerdict {
    let flow = this.#flows.get(resourceId);
    if (flow === undefined) {
      flow = { lastRequestAt: now, refused: false, buffer: this.#newBuffer() };
      this.#flows.set(resourceId, flow);
      this.#push(flow, packet);
      return 'request';
    }
    const due = now - flow.lastRequestAt >= this.options.retryIntervalMs;
    if (flow.refused && !due) return 'refused';
    this.#push(flow, packet);
    if (!due) return 'buffered';
    flow.lastRequestAt = now;
    flow.refused = false;
    return 'request';
  }

  /** The portal authorized the resource: its buffered packets, oldest first (the flow is closed). */
  take(resourceId: string): Uint8Array[] {
    const flow = this.#flows.get(resourceId);
    if (flow === undefined) return [];
    this.#flows.delete(resourceId);
    return flow.buffer.drain();
  }

  /** The portal refused: the buffered packets (answer them ICMP unreachable); new packets are refused for a while. */
  refuse(resourceId: string, now: number): Uint8Array[] {
    const flow = this.#flows.get(resourceId);
    if (flow === undefined) return [];
    flow.refused = true;
    flow.lastRequestAt = now;
    return flow.buffer.drain();
  }

  /** Forget a resource's flow (resource removed). */
  remove(resourceId: string): void {
    const flow = this.#flows.get(resourceId);
    if (flow === undefined) return;
    this.#dropped += flow.buffer.clear();
    this.#flows.delete(resourceId);
  }

  clear(): void {
    for (const id of [...this.#flows.keys()]) this.remove(id);
  }

  #push(flow: Flow, packet: Uint8Array): void {
    const result = flow.buffer.push(packet);
    if (result === 'buffered_dropped_oldest' || result === 'over_budget') this.#dropped++;
  }

  #newBuffer(): PacketBuffer {
    return new PacketBuffer(this.options.bufferCapacity, this.options.budget, this.options.dedupeKey);
  }
}
