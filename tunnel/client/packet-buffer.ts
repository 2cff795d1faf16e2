/**
 * Bounded FIFO of IP packets waiting for a tunnel or a NAT (the lazy tunnel's "first packets"). When full, the
 * oldest packet is dropped. A packet whose dedupe key (the caller derives one for TCP SYNs: addresses, ports and
 * sequence number) equals a buffered packet's is not buffered again, so an application's SYN retransmissions while
 * the tunnel comes up are replayed once.
 *
 * All buffers of a client share a `PacketBudget`, which bounds the bytes buffered in total whatever the number of
 * buffers: a buffer that would exceed it first drops its own oldest packets, then refuses the new one.
 */
export class PacketBudget {
  #used = 0;

  constructor(readonly maxBytes: number) {}

  get usedBytes(): number {
    return this.#used;
  }

  /** @internal for PacketBuffer */
  tryTake(bytes: number): boolean {
    if (this.#used + bytes > this.maxBytes) return false;
    this.#used += bytes;
    return true;
  }

  /** @internal for PacketBuffer */
  give(bytes: number): void {
    this.#used -= bytes;
  }
}

export type PushResult = 'buffered' | 'duplicate' | 'buffered_dropped_oldest' | 'over_budget';

export type DedupeKey = (packet: Uint8Array) => string | undefined;

export class PacketBuffer {
  readonly #packets: Uint8Array[] = [];
  readonly #keys: (string | undefined)[] = [];
  readonly #keySet = new Set<string>();
  #head = 0;
  #dropped = 0;

  constructor(
    readonly capacity: number,
    readonly budget: PacketBudget,
    readonly dedupeKey: DedupeKey,
  ) {}

  get length(): number {
    return this.#packets.length - this.#head;
  }

  /** Packets dropped so far (oldest evicted or refused over budget); duplicates are not counted. */
  get dropped(): number {
    return this.#dropped;
  }

  push(packet: Uint8Array): PushResult {
    const key = this.dedupeKey(packet);
    if (key !== undefined && this.#keySet.has(key)) return 'duplicate';
    let result: PushResult = 'buffered';
    if (this.length >= this.capacity) {
      this.#dropOldest();
      result = 'buffered_dropped_oldest';
    }
    while (!this.budget.tryTake(packet.byteLength)) {
      if (this.length === 0) {
        this.#dropped++;
        return 'over_budget';
      }
      this.#dropOldest();
      result = 'buffered_dropped_oldest';
    }
    // The caller's view may alias a reused read buffer; keep our own copy.
    this.#packets.push(packet.slice());
    this.#keys.push(key);
    if (key !== undefined) this.#keySet.add(key);
    return result;
  }

  /** Removes and returns every buffered packet, oldest first. */
  drain(): Uint8Array[] {
    const packets = this.#packets.slice(this.#head);
    for (const packet of packets) this.budget.give(packet.byteLength);
    this.#reset();
    return packets;
  }

  /** Drops every buffered packet (returns how many). */
  clear(): number {
    return this.drain().length;
  }

  #dropOldest(): void {
    const packet = this.#packets[this.#head];
    const key = this.#keys[this.#head];
    if (packet === undefined) return;
    this.budget.give(packet.byteLength);
    if (key !== undefined) this.#keySet.delete(key);
    this.#head++;
    this.#dropped++;
    // Compact now and then so the arrays do not grow with the number of packets ever pushed.
    if (this.#head >= this.capacity) {
      this.#packets.splice(0, this.#head);
      this.#keys.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #reset(): void {
    this.#packets.length = 0;
    this.#keys.length = 0;
    this.#keySet.clear();
    this.#head = 0;
  }
}
