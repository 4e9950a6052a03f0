import { systemClock, type Clock } from './clock.js';
import type { RateLimiter } from './rate-limiter.js';
import { parseRateLimitHeaders } from './retry-after.js';

export interface AutoRateOptions {
  /** First rate, requests/s. Default 10 (the fixed default: modest for any account). */
  initial?: number;
  /** Never below this. Default 0.5/s. */
  min?: number;
  /** Never above this. Default 10 000/s. */
  max?: number;
  clock?: Clock;
}

/** What `--rate auto` needs of a response (the client's `onResponse` info). */
export interface PacingInfo {
  status: number;
  /** Lower-cased pacing headers (Retry-After, RateLimit-*, X-RateLimit-*). */
  headers: Record<string, string>;
}

export type AutoRatePhase = 'slow-start' | 'probing' | 'announced';

/** Length of a measuring window: rates change at most this often. */
const WINDOW_MS = 1000;
/** A window counts as rate-bound when it achieved this share of the rate (else: concurrency-bound). */
const RATE_BOUND = 0.85;
/** Below this share of what we know the server takes, grow fast; above it, probe slowly. */
const NEAR = 0.9;
/** Two 429 clusters closer than this are too close to measure the server's refill from. */
const MIN_ESTIMATE_SPAN_MS = 2000;
/** How far under a measured limit to settle (the measure is noisy: latency, timer drift). */
const MARGIN = 0.97;
/** How far under an announced limit to settle (exact, but clocks drift). */
const ANNOUNCED_MARGIN = 0.99;

/**
 * `--rate auto`: find and follow a server's rate limit nobody announced (design.md §4).
 *
 * - **Slow start**: from `initial`, double the rate every second the client actually reached it,
 *   until the first 429; then halve (the overshoot of a doubling is at most ×2).
 * - **Measuring the limit**: a 429 means the server's bucket just ran empty. Between two such
 *   moments the server accepted exactly what it refilled, so `accepted / elapsed` between two
 *   429 clusters is the server's rate (a lower bound, if the bucket sat full for a while). After
 *   the second 429 the rate goes to 97 % of that — no more sawtooth around a guess.
 * - **Probing**: then grow additively, +5 %/s while well under what is known, +0.5 %/s near it,
 *   so the next probe past the limit comes rarely and costs a 429 or two.
 * - **Headers**: `RateLimit-Policy` (`q;w=s`) announces the rate: take it and stop probing.
 *   `RateLimit-Remaining` (or `X-`) running low stops any increase; reaching 0 caps the rate at
 *   `limit / reset` — what the server will accept before it resets.
 * - One cut per second: the requests in flight when the limit is hit all answer 429 for the same
 *   overshoot. A window where the client sent less than the rate (concurrency- or latency-bound)
 *   never raises it: a rate nobody reached proves nothing and would only bank a burst.
 */
export class AutoRate {
  #rate: number;
  #phase: AutoRatePhase = 'slow-start';
  /** The rate that last drew a 429 (upper side of what we know). */
  #ceiling = Number.POSITIVE_INFINITY;
  /** Measured server rate (lower bound), 0 until two 429 clusters were seen. */
  #measured = 0;
  /** Announced by RateLimit-Policy, or capped by remaining = 0; never exceeded. */
  #cap = Number.POSITIVE_INFINITY;
  #accepted = 0;
  #windowStart: number;
  #windowAccepted = 0;
  #hold = false;
  #lastCut = Number.NEGATIVE_INFINITY;
  #acceptedAtCut = 0;
  readonly #min: number;
  readonly #max: number;
  readonly #clock: Clock;
  /** Number of cuts after 429s (for the summary and tests). */
  cuts = 0;

  constructor(options: AutoRateOptions = {}) {
    this.#min = options.min ?? 0.5;
    this.#max = options.max ?? 10_000;
    this.#rate = clamp(options.initial ?? 10, this.#min, this.#max);
    this.#clock = options.clock ?? systemClock;
    this.#windowStart = this.#clock.now();
  }

  get rate(): number {
    return this.#rate;
  }

  get phase(): AutoRatePhase {
    return this.#phase;
  }

  /** The server rate measured between 429s, or undefined before two were seen. */
  get measured(): number | undefined {
    return this.#measured > 0 ? this.#measured : undefined;
  }

  /** A request succeeded (the server took a token). */
  onSuccess(limiter: RateLimiter): void {
    this.#accepted++;
    this.#windowAccepted++;
    const now = this.#clock.now();
    const elapsed = now - this.#windowStart;
    if (elapsed < WINDOW_MS) return;
    const achieved = (this.#windowAccepted * 1000) / elapsed;
    this.#windowStart = now;
    this.#windowAccepted = 0;
    const hold = this.#hold;
    this.#hold = false;
    if (hold || achieved < RATE_BOUND * this.#rate) return;
    const seconds = Math.min(2, elapsed / 1000);
    let next: number;
    if (this.#phase === 'slow-start') {
      next = this.#rate * 2 ** seconds;
    } else {
      const known = this.#measured > 0 ? this.#measured : this.#ceiling;
      const growth = this.#rate < NEAR * known ? 0.05 : 0.005;
      next = this.#rate * (1 + growth * seconds);
    }
    this.#set(limiter, next);
  }

  /** A request was answered 429. */
  on429(limiter: RateLimiter, _error?: unknown): void {
    const now = this.#clock.now();
    if (now - this.#lastCut < WINDOW_MS) return;
    // The server's bucket was empty at the previous cut and is empty now: what it accepted in
    // between is what it refilled.
    if (this.cuts > 0 && now - this.#lastCut >= MIN_ESTIMATE_SPAN_MS) {
      this.#measured = ((this.#accepted - this.#acceptedAtCut) * 1000) / (now - this.#lastCut);
    }
    const failed = this.#rate;
    let next: number;
    if (this.#measured > 0 && this.#measured < failed) next = MARGIN * this.#measured;
    else next = failed * (this.#phase === 'slow-start' ? 0.5 : 0.7);
    this.#lastCut = now;
    this.#acceptedAtCut = this.#accepted;
    this.cuts++;
    this.#ceiling = failed;
    if (this.#phase === 'slow-start') this.#phase = 'probing';
    this.#windowStart = now;
    this.#windowAccepted = 0;
    this.#set(limiter, next);
  }

  /** Every response's pacing headers (the client's onResponse hook). Cheap when there are none. */
  onResponse(limiter: RateLimiter, info: PacingInfo): void {
    const headers = info.headers;
    const policy = headers['ratelimit-policy'];
    if (policy !== undefined) {
      const announced = parsePolicyRate(policy);
      if (announced !== undefined) {
        const cap = ANNOUNCED_MARGIN * announced;
        if (cap !== this.#cap) {
          this.#cap = cap;
          this.#phase = 'announced';
          this.#set(limiter, cap);
        }
        return;
      }
    }
    if (headers['ratelimit-remaining'] === undefined && headers['x-ratelimit-remaining'] === undefined && headers['ratelimit'] === undefined) {
      return;
    }
    const { limit, remaining, resetMs } = parseRateLimitHeaders(headers, this.#clock.now());
    if (remaining === undefined) return;
    if (limit !== undefined && remaining <= Math.max(1, 0.1 * limit)) this.#hold = true;
    if (remaining === 0 && limit !== undefined && resetMs !== undefined && resetMs > 0) {
      // The server takes `limit` more before it resets, at most: pace that out.
      const cap = (limit * 1000) / resetMs;
      if (cap < this.#rate) {
        if (this.#phase === 'slow-start') this.#phase = 'probing';
        this.#ceiling = Math.min(this.#ceiling, this.#rate);
        this.#set(limiter, cap);
      }
    }
  }

  #set(limiter: RateLimiter, rate: number): void {
    this.#rate = clamp(Math.min(rate, this.#cap), this.#min, this.#max);
    limiter.setRate(this.#rate);
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

/**
 * `RateLimit-Policy` → requests per second. Accepts `10;w=1`, `100;w=60, 1000;w=3600` (the
 * strictest item wins) and the newer `"default";q=100;w=60`. Undefined when unreadable.
 */
export function parsePolicyRate(value: string): number | undefined {
  let best: number | undefined;
  for (const item of value.split(',')) {
    let quota: number | undefined;
    let window: number | undefined;
    for (const [i, part] of item.split(';').entries()) {
      const p = part.trim();
      const kv = /^([a-z]+)\s*=\s*"?(\d+(?:\.\d+)?)"?$/i.exec(p);
      if (kv) {
        const key = kv[1]!.toLowerCase();
        if (key === 'w') window = Number(kv[2]);
        else if (key === 'q') quota = Number(kv[2]);
      } else if (i === 0 && /^\d+(?:\.\d+)?$/.test(p)) {
        quota = Number(p);
      }
    }
    if (quota === undefined || window === undefined || !(quota > 0) || !(window > 0)) continue;
    const rate = quota / window;
    if (best === undefined || rate < best) best = rate;
  }
  return best;
}
