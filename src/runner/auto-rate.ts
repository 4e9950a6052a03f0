import { systemClock, type Clock } from './clock.js';
import type { RateLimiter } from './rate-limiter.js';

export interface AutoRateOptions {
  initial?: number;
  min?: number;
  max?: number;
  clock?: Clock;
}

/**
 * `--rate auto`: AIMD for a server whose limit nobody announced.
 *
 * - Start modestly and grow ×1.5 per second's worth of successes until the first 429 (slow start).
 * - On a 429: cut to 70 % and remember the rate that failed as a ceiling. Only one cut per
 *   second: the other requests already in flight answer 429 for the same overshoot.
 * - Then grow additively: quickly (+5 %/s) while well under the ceiling, slowly (+0.5 %/s) near
 *   it, so probing past the real limit is rare and each probe costs a few 429s at most.
 */
export class AutoRate {
  #rate: number;
  #ceiling = Number.POSITIVE_INFINITY;
  #successes = 0;
  #windowStart: number;
  #lastCut = Number.NEGATIVE_INFINITY;
  readonly #min: number;
  readonly #max: number;
  readonly #clock: Clock;
  /** Rate changes, for the summary and tests. */
  cuts = 0;

  constructor(options: AutoRateOptions = {}) {
    this.#rate = options.initial ?? 5;
    this.#min = options.min ?? 0.5;
    this.#max = options.max ?? 10_000;
    this.#clock = options.clock ?? systemClock;
    this.#windowStart = this.#clock.now();
  }

  get rate(): number {
    return this.#rate;
  }

  onSuccess(limiter: RateLimiter): void {
    this.#successes++;
    const now = this.#clock.now();
    // Adjust once per second's worth of requests at the current rate (and at least 250 ms).
    if (this.#successes < this.#rate || now - this.#windowStart < 250) return;
    const elapsed = Math.max(1, now - this.#windowStart) / 1000;
    this.#successes = 0;
    this.#windowStart = now;
    let next: number;
    if (this.#ceiling === Number.POSITIVE_INFINITY) next = this.#rate * Math.min(1.5, 1 + 0.5 * elapsed);
    else if (this.#rate < 0.9 * this.#ceiling) next = this.#rate * (1 + 0.05 * elapsed);
    else next = this.#rate * (1 + 0.005 * elapsed);
    this.#set(limiter, next);
  }

  on429(limiter: RateLimiter, _error?: unknown): void {
    const now = this.#clock.now();
    if (now - this.#lastCut < 1000) return;
    this.#lastCut = now;
    this.cuts++;
    this.#ceiling = this.#rate;
    this.#successes = 0;
    this.#windowStart = now;
    this.#set(limiter, this.#rate * 0.7);
  }

  #set(limiter: RateLimiter, rate: number): void {
    this.#rate = Math.min(this.#max, Math.max(this.#min, rate));
    limiter.setRate(this.#rate);
  }
}
