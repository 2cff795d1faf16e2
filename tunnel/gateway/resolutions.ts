/**
 * Name resolution on behalf of clients, sans-IO: the gateway asks for A and AAAA of a domain at once through
 * `pollRequest()`, the daemon answers each with `handleAnswer()`. At most `maxConcurrent` domains are being resolved
 * at a time; more wait in a bounded queue. A domain asked for again while it is queued or in flight joins that
 * resolution instead of starting another. An answer that does not arrive within `timeoutMs` counts as a failure.
 */

export type RecordType = 'A' | 'AAAA';

export interface ResolveRequest {
  id: number;
  domain: string;
  type: RecordType;
}

export interface ResolvedRecord {
  address: string;
  /** Seconds, as the resolver reported it. */
  ttl: number;
}

/** `ok` with no records means the name exists without records of that type (or NXDOMAIN for both). */
export type ResolveAnswer = { ok: true; records: ResolvedRecord[] } | { ok: false; error: string };

export interface CompletedResolution<W> {
  domain: string;
  a: ResolveAnswer;
  aaaa: ResolveAnswer;
  waiters: W[];
}

export interface ResolutionLimits {
  maxConcurrent: number;
  maxQueued: number;
  timeoutMs: number;
}

export const DEFAULT_RESOLUTION_LIMITS: ResolutionLimits = { maxConcurrent: 64, maxQueued: 4096, timeoutMs: 10_000 };

interface Job<W> {
  domain: string;
  waiters: W[];
  aId?: number;
  aaaaId?: number;
  a?: ResolveAnswer;
  aaaa?: ResolveAnswer;
  deadline?: number;
}

export class ResolutionScheduler<W> {
  private readonly jobs = new Map<string, Job<W>>();
  private readonly byId = new Map<number, Job<W>>();
  /** Jobs waiting for a slot, in arrival order (a Set keeps insertion order and removes in O(1)). */
  private readonly queued = new Set<Job<W>>();
  private readonly inFlight = new Set<Job<W>>();
  private readonly requests: ResolveRequest[] = [];
  private readonly completed: CompletedResolution<W>[] = [];
  private nextId = 1;

  constructor(private readonly limits: ResolutionLimits = DEFAULT_RESOLUTION_LIMITS) {}

  /** Asks for `domain` on behalf of `waiter`; false when the queue is full (the caller answers "inactive"). */
  request(domain: string, waiter: W, now: number): boolean {
    const existing = this.jobs.get(domain);
    if (existing) {
      existing.waiters.push(waiter);
      return true;
    }
    if (this.inFlight.size >= this.limits.maxConcurrent && this.queued.size >= this.limits.maxQueued) return false;
    const job: Job<W> = { domain, waiters: [waiter] };
    this.jobs.set(domain, job);
    this.queued.add(job);
    this.startQueued(now);
    return true;
  }

  pollRequest(): ResolveRequest | undefined {
    return this.requests.shift();
  }

  /** An answer for a request; unknown or late ids are ignored. */
  handleAnswer(id: number, answer: ResolveAnswer, now: number): void {
    const job = this.byId.get(id);
    if (!job) return;
    this.byId.delete(id);
    if (id === job.aId) job.a = answer;
    else job.aaaa = answer;
    if (job.a && job.aaaa) this.finish(job, now);
  }

  handleTimeout(now: number): void {
    for (const job of [...this.inFlight]) {
      if (job.deadline === undefined || job.deadline > now) continue;
      job.a ??= { ok: false, error: 'timeout' };
      job.aaaa ??= { ok: false, error: 'timeout' };
      this.finish(job, now);
    }
  }

  pollTimeout(): number | undefined {
    let next: number | undefined;
    for (const job of this.inFlight) {
      if (job.deadline !== undefined && (next === undefined || job.deadline < next)) next = job.deadline;
    }
    return next;
  }

  pollCompleted(): CompletedResolution<W> | undefined {
    return this.completed.shift();
  }

  /** Drops waiters (e.g. of a client whose authorization ended); the resolution itself runs on for the others. */
  forgetWaiters(predicate: (waiter: W) => boolean): void {
    for (const job of this.jobs.values()) job.waiters = job.waiters.filter((w) => !predicate(w));
  }

  /** How many waiters match, queued or in flight (to bound what one client may have outstanding). */
  countWaiters(predicate: (waiter: W) => boolean): number {
    let n = 0;
    for (const job of this.jobs.values()) for (const w of job.waiters) if (predicate(w)) n++;
    return n;
  }

  private finish(job: Job<W>, now: number): void {
    if (job.aId !== undefined) this.byId.delete(job.aId);
    if (job.aaaaId !== undefined) this.byId.delete(job.aaaaId);
    this.inFlight.delete(job);
    this.jobs.delete(job.domain);
    this.completed.push({ domain: job.domain, a: job.a!, aaaa: job.aaaa!, waiters: job.waiters });
    this.startQueued(now);
  }

  private startQueued(now: number): void {
    for (const job of this.queued) {
      if (this.inFlight.size >= this.limits.maxConcurrent) return;
      this.queued.delete(job);
      this.inFlight.add(job);
      job.deadline = now + this.limits.timeoutMs;
      job.aId = this.nextId++;
      job.aaaaId = this.nextId++;
      this.byId.set(job.aId, job);
      this.byId.set(job.aaaaId, job);
      this.requests.push(
        { id: job.aId, domain: job.domain, type: 'A' },
        { id: job.aaaaId, domain: job.domain, type: 'AAAA' },
      );
    }
  }
}
