import { systemClock, type Clock } from './clock.js';

/**
 * A smooth request-rate gate shared by every request of a run (reads, writes and retries).
 *
 * It is GCRA (a virtual-schedule token bucket): each request reserves the next slot
 * `1/rate` after the previous one, so requests leave evenly spaced rather than in bursts at
 * the start of each second. A small tolerance (`burst` slots) lets a late timer catch up
 * without ever sending more than `burst` requests back to back, so a server enforcing
 * `rate`/s with a bucket of `rate` never has a reason to answer 429.
 *
 * `pauseUntil(t)` holds every request until `t`: a 429 slows the whole queue, not one item.
 */
export class RateLimiter {
  #intervalMs: number;
  #burst: number;
  #next = 0; // theoretical arrival time of the next request
  #pausedUntil = 0;
  readonly #clock: Clock;

  constructor(rate: number, options: { burst?: number; clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#intervalMs = 1000 / checkRate(rate);
    this.#burst = options.burst ?? defaultBurst(rate);
  }

  get rate(): number {
    return 1000 / this.#intervalMs;
  }

  /** Change the rate from now on (auto mode); requests already admitted are not recalled. */
  setRate(rate: number): void {
    this.#intervalMs = 1000 / checkRate(rate);
    this.#burst = defaultBurst(rate);
  }

  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** Hold every request until `time` (ms since epoch). Never shortens an existing pause. */
  pauseUntil(time: number): void {
    if (time > this.#pausedUntil) this.#pausedUntil = time;
  }

  /** Wait for this request's slot. Resolves early (without a slot) if `signal` aborts. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.#clock.now();
      if (this.#pausedUntil > now) {
        await this.#clock.sleep(this.#pausedUntil - now, signal);
        if (signal?.aborted) return;
        continue;
      }
      // Catch-up is bounded: never more than `burst` slots in the past.
      const earliest = now - (this.#burst - 1) * this.#intervalMs;
      const slot = Math.max(this.#next, earliest);
      this.#next = slot + this.#intervalMs;
      if (slot <= now) return;
      await this.#clock.sleep(slot - now, signal);
      // A pause that began while this request slept (a 429 elsewhere) still applies to it.
      if (signal?.aborted || this.#pausedUntil <= this.#clock.now()) return;
    }
  }
}

function checkRate(rate: number): number {
  if (!Number.isFinite(rate) || rate <= 0) throw new RangeError(`rate must be a positive number, got ${rate}`);
  return rate;
}

/** A tenth of a second's worth of requests, at least one. */
function defaultBurst(rate: number): number {
  return Math.max(1, Math.floor(rate / 10));
}
