/**
 * Queries forwarded to upstream resolvers and waiting for the helper to bring the answer back. Each has a deadline
 * (the helper may report a failure earlier); at the deadline the application gets SERVFAIL. At most `max` wait at
 * once: beyond that a query is answered SERVFAIL at once, so a flood of forwarded queries cannot grow memory.
 */

export type Transport = 'udp' | 'tcp';

/** Where the answer goes back to: a UDP client of a sentinel, or a TCP connection of the TCP responder. */
export type ReplyPath =
  | { transport: 'udp'; client: Uint8Array; clientPort: number; sentinel: Uint8Array }
  | { transport: 'tcp'; connection: number };

export interface PendingUpstream {
  ref: number;
  deadline: number;
  /** The query as the application sent it (a copy), to answer SERVFAIL and restore its id. */
  query: Uint8Array;
  reply: ReplyPath;
}

export class UpstreamQueries {
  readonly #pending = new Map<number, PendingUpstream>();
  /** Refs in deadline order per transport (deadlines grow with time within one transport); lazily cleaned. */
  #queues: Record<Transport, number[]> = { udp: [], tcp: [] };
  #nextRef = 1;

  constructor(
    readonly timeoutMs: Record<Transport, number>,
    readonly max: number,
  ) {}

  get size(): number {
    return this.#pending.size;
  }

  /** Registers a forwarded query; undefined when too many are waiting. */
  add(query: Uint8Array, reply: ReplyPath, now: number): PendingUpstream | undefined {
    if (this.#pending.size >= this.max) return undefined;
    const pending: PendingUpstream = {
      ref: this.#nextRef++,
      deadline: now + this.timeoutMs[reply.transport],
      query: query.slice(),
      reply,
    };
    this.#pending.set(pending.ref, pending);
    const queue = this.#queues[reply.transport];
    queue.push(pending.ref);
    // Answered refs stay queued until they reach the head; compact so a busy resolver cannot grow the queue.
    if (queue.length > 4 * this.max) this.#queues[reply.transport] = queue.filter((ref) => this.#pending.has(ref));
    return pending;
  }

  take(ref: number): PendingUpstream | undefined {
    const pending = this.#pending.get(ref);
    if (pending !== undefined) this.#pending.delete(ref);
    return pending;
  }

  /** Removes and returns every query whose deadline has passed. */
  takeExpired(now: number): PendingUpstream[] {
    const expired: PendingUpstream[] = [];
    for (const queue of Object.values(this.#queues)) {
      let head = 0;
      for (; head < queue.length; head++) {
        const pending = this.#pending.get(queue[head]!);
        if (pending === undefined) continue;
        if (pending.deadline > now) break;
        this.#pending.delete(pending.ref);
        expired.push(pending);
      }
      queue.splice(0, head);
    }
    return expired;
  }

  nextDeadline(): number | undefined {
    let earliest: number | undefined;
    for (const queue of Object.values(this.#queues)) {
      // Answered refs at the head are skipped (and dropped) so the deadline is a live one.
      while (queue.length > 0 && !this.#pending.has(queue[0]!)) queue.shift();
      const head = queue[0] === undefined ? undefined : this.#pending.get(queue[0]);
      if (head !== undefined && (earliest === undefined || head.deadline < earliest)) earliest = head.deadline;
    }
    return earliest;
  }

  clear(): void {
    this.#pending.clear();
    this.#queues.udp.length = 0;
    this.#queues.tcp.length = 0;
  }
}
