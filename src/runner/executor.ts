import { setMaxListeners } from 'node:events';
import PQueue from 'p-queue';
import { systemClock, type Clock } from './clock.js';
import type { RateLimiter } from './rate-limiter.js';
import { decideRetry, type RetryOptions } from './retry-policy.js';

export type RequestKind = 'read' | 'write';

export interface RequestCounters {
  total: number;
  reads: number;
  writes: number;
  retries: number;
  status429: number;
}

/** What the executor tells its observer (rate control, logging, progress). */
export interface ExecutorEvents {
  onSuccess?(kind: RequestKind): void;
  /** A retryable failure; `delayMs` is how long the retry waits (outside the queue). */
  onRetry?(kind: RequestKind, error: unknown, attempt: number, delayMs: number): void;
  on429?(error: unknown): void;
}

export type Attempted<T> =
  | { ok: true; value: T; attempts: number }
  | { ok: false; error: unknown; attempts: number; reason: FinalReason };

export type FinalReason =
  | 'not_found'
  | 'forbidden'
  | 'http'
  | 'retries_exhausted'
  | 'unauthorized'
  | 'network'
  | 'aborted';

const PRIORITY_RETRY = 2;
const PRIORITY_READ = 1;
const PRIORITY_WRITE = 0;

/**
 * Runs requests through one p-queue (the concurrency bound) and one RateLimiter (the request
 * rate), retrying by the pure retry policy. A retry waits *outside* the queue, so it holds no
 * concurrency slot, and goes back in ahead of fresh work; every attempt takes a rate slot.
 */
export class RequestExecutor {
  readonly queue: PQueue;
  readonly counters: RequestCounters = { total: 0, reads: 0, writes: 0, retries: 0, status429: 0 };
  readonly #abort = new AbortController();
  /**
   * Queued requests to give up on abort (see settledOrDropped): the head of a doubly linked list.
   * Not one abort listener each (EventTarget's add/removeEventListener walk every listener,
   * O(backlog) per request), nor a Set: a Set's table lives in the old generation, and with a
   * closure added and deleted per request it had V8 promote ~0.7 KB more per write (44 MB
   * instead of 30 MB over 19,200 updates), and pay for it in GC.
   */
  readonly #onAbort: Waiter = { drop: undefined, prev: undefined, next: undefined };
  #abortReason: string | undefined;

  constructor(
    private readonly limiter: RateLimiter,
    private readonly retry: RetryOptions,
    concurrency: number,
    private readonly events: ExecutorEvents = {},
    private readonly clock: Clock = systemClock,
    private readonly random: () => number = Math.random,
  ) {
    this.queue = new PQueue({ concurrency });
    // Requests sleeping (rate slot, retry backoff) listen for the abort: no leak, just many.
    setMaxListeners(0, this.#abort.signal);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get aborted(): boolean {
    return this.#abort.signal.aborted;
  }

  get abortReason(): string | undefined {
    return this.#abortReason;
  }

  /** Stop starting requests: queued work is dropped, waiting retries give up, in-flight ones finish. */
  abort(reason: string): void {
    if (this.aborted) return;
    this.#abortReason = reason;
    this.queue.clear();
    this.#abort.abort(new Error(reason));
    let waiter = this.#onAbort.next;
    this.#onAbort.next = undefined;
    while (waiter) {
      const next: Waiter | undefined = waiter.next;
      waiter.prev = waiter.next = undefined;
      waiter.drop?.();
      waiter = next;
    }
  }

  /** Requests queued but not started (for backpressure). */
  get backlog(): number {
    return this.queue.size;
  }

  /**
   * Room for one more queued request under `limit`: undefined (go on, no promise) while there
   * is; once the backlog is full, a promise for when half of it has drained. One wait per half a
   * backlog, not one per request: each wait is a listener on the queue, added and removed.
   */
  roomUnder(limit: number): Promise<void> | undefined {
    return this.queue.size >= limit ? this.queue.onSizeLessThan(Math.ceil(limit / 2)) : undefined;
  }

  async waitForBacklogBelow(limit: number): Promise<void> {
    if (this.queue.size >= limit) await this.queue.onSizeLessThan(limit);
  }

  /** Wait until nothing is running or queued (retries waiting outside the queue are not counted). */
  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }

  /**
   * Send one logical request, retrying by policy. `send` gets no abort signal on purpose: on an
   * abort, requests already in flight finish (bounded by the request timeout) so their results
   * reach the journal; only requests not yet started are dropped.
   */
  async execute<T>(kind: RequestKind, send: () => Promise<T>): Promise<Attempted<T>> {
    let attempts = 0;
    for (;;) {
      if (this.aborted) return { ok: false, error: this.signal.reason, attempts, reason: 'aborted' };
      const priority = attempts > 0 ? PRIORITY_RETRY : kind === 'read' ? PRIORITY_READ : PRIORITY_WRITE;
      let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
      let started = false;
      try {
        const queued = this.queue.add(
          async () => {
            started = true;
            if (!this.limiter.tryAcquire()) await this.limiter.acquire(this.signal);
            if (this.aborted) return undefined; // dropped: the run is stopping
            attempts++;
            this.counters.total++;
            if (kind === 'read') this.counters.reads++;
            else this.counters.writes++;
            try {
              const sent = send();
              // Strict spacing counts from here for reads too (updates are also marked by the
              // client when they reach a socket, which may be later).
              this.limiter.markSent();
              return { ok: true as const, value: await sent };
            } catch (error) {
              return { ok: false as const, error };
            }
          },
          { priority },
        );
        outcome = await settledOrDropped(queued, () => started, this.signal, this.#onAbort);
      } catch (error) {
        outcome = { ok: false, error };
      }
      if (outcome === undefined) {
        return { ok: false, error: this.signal.reason, attempts, reason: 'aborted' };
      }
      if (outcome.ok) {
        this.events.onSuccess?.(kind);
        return { ok: true, value: outcome.value, attempts };
      }
      const error = outcome.error;
      if (statusOf(error) === 429) {
        this.counters.status429++;
        this.events.on429?.(error);
      }
      if (this.aborted) return { ok: false, error, attempts, reason: 'aborted' };
      const decision = decideRetry(attempts, error, this.retry, this.clock.now(), this.random);
      if (!decision.retry) return { ok: false, error, attempts, reason: decision.reason };
      this.counters.retries++;
      if (statusOf(error) === 429) {
        // A 429 slows the whole queue: nobody sends until this request's wait is over.
        this.limiter.pauseUntil(this.clock.now() + decision.delayMs);
      }
      this.events.onRetry?.(kind, error, attempts, decision.delayMs);
      await this.clock.sleep(decision.delayMs, this.signal);
    }
  }
}

/** A request waiting in the queue, linked into the executor's list of those to drop on abort. */
interface Waiter {
  drop: (() => void) | undefined;
  prev: Waiter | undefined;
  next: Waiter | undefined;
}

/**
 * `abort()` clears the queue, and p-queue never settles the promise of a task it dropped: wait
 * for the task, but give up (undefined) when the run aborts before the task started. A task
 * already running is waited for, so its result reaches the journal. `head`: the list the waiter
 * joins until the task settles (unlinked in O(1)).
 */
function settledOrDropped<V>(task: Promise<V>, started: () => boolean, signal: AbortSignal, head: Waiter): Promise<V | undefined> {
  return new Promise<V | undefined>((resolve, reject) => {
    const waiter: Waiter = {
      drop: () => {
        if (!started()) resolve(undefined);
      },
      prev: undefined,
      next: undefined,
    };
    if (signal.aborted) waiter.drop!();
    else {
      waiter.prev = head;
      waiter.next = head.next;
      if (head.next) head.next.prev = waiter;
      head.next = waiter;
    }
    const unlink = () => {
      const prev = waiter.prev;
      if (prev) {
        prev.next = waiter.next;
        if (waiter.next) waiter.next.prev = prev;
      }
      waiter.prev = waiter.next = waiter.drop = undefined;
    };
    task.then(
      (value) => {
        unlink();
        resolve(value);
      },
      (error: unknown) => {
        unlink();
        reject(error);
      },
    );
  });
}

export function statusOf(error: unknown): number | undefined {
  if (error && typeof error === 'object' && 'status' in error) {
    const status = (error as { status: unknown }).status;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}
