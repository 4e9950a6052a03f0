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
  /** A cap on the catch-up tolerance, whatever the rate (a server whose bucket is smaller). */
  #burstCap = Number.POSITIVE_INFINITY;
  /** Strict spacing (a cap of 1): the request before's turn, and when it left. */
  #turn: Promise<void> = Promise.resolve();
  #lastLeft = Number.NEGATIVE_INFINITY;
  /** Strict spacing: the round trips of the last answers (a ring), the quickest of them the norm. */
  readonly #rtts: number[] = [];
  #rttNext = 0;
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
    this.#burst = Math.min(this.#burstCap, defaultBurst(rate));
  }

  /**
   * Never let more than `slots` requests go back to back to catch up, at any rate (auto mode,
   * once a server showed a bucket that small): 1 is strict spacing, a late request never
   * followed closer than `1/rate` by the next.
   */
  capBurst(slots: number): void {
    this.#burstCap = Math.max(1, Math.floor(slots));
    this.#burst = Math.min(this.#burst, this.#burstCap);
  }

  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** Hold every request until `time` (ms since epoch). Never shortens an existing pause. */
  pauseUntil(time: number): void {
    if (time > this.#pausedUntil) this.#pausedUntil = time;
  }

  /**
   * Take this request's slot if it is due now (no pause, not strict spacing): true. Otherwise
   * false, and nothing is taken: `acquire()` waits for one. Saves a promise per request when the
   * rate is not what bounds the run.
   */
  tryAcquire(): boolean {
    if (this.strict) return false;
    const now = this.#clock.now();
    if (this.#pausedUntil > now) return false;
    const slot = Math.max(this.#next, now - (this.#burst - 1) * this.#intervalMs);
    if (slot > now) return false;
    this.#next = slot + this.#intervalMs;
    return true;
  }

  /** Wait for this request's slot. Resolves early (without a slot) if `signal` aborts. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      // Strict spacing may have begun while this request slept: it then takes its turn too.
      if (this.strict) return this.#acquireStrict(signal);
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
      if (signal?.aborted) return;
      // Strict spacing that began while this request slept: its slot is void, it takes a turn.
      if (this.strict) return this.#acquireStrict(signal);
      // A pause that began while this request slept (a 429 elsewhere) still applies to it.
      if (this.#pausedUntil <= this.#clock.now()) return;
    }
  }

  /** Strict spacing: true once capBurst(1). */
  get strict(): boolean {
    return this.#burstCap === 1;
  }

  /**
   * Strict spacing: the request given the last turn has just been handed to the socket. The
   * next turn counts from now: whatever ran between the turn and the send (a journal write, a
   * garbage collection) does not bring the next request closer to it. Nothing otherwise.
   */
  markSent(): void {
    if (this.strict) this.#leftAt(this.#clock.now());
  }

  /**
   * markSent() for a request handed to its socket by the client; under strict spacing it returns
   * the function to call when that request's answer arrives (undefined otherwise: no cost).
   *
   * An answer later than the quickest of the recent ones says the server took the request that
   * much later than it was sent, most likely (a server's event loop that stalled, a busy
   * machine; it may also be the way back): the server's bucket counts from that arrival, so the
   * next request waits 1/rate from it. Otherwise the next one, sent on time, reaches the server
   * closer than 1/rate behind the late one, and a bucket of one token refuses it.
   */
  markWritten(): (() => void) | undefined {
    if (!this.strict) return undefined;
    const sentAt = this.#clock.now();
    this.#leftAt(sentAt);
    return () => this.#answered(sentAt);
  }

  /** Strict spacing: the last request left (or reached the server) at `time`, if that is later than known. */
  #leftAt(time: number): void {
    if (time > this.#lastLeft) this.#lastLeft = time;
  }

  #answered(sentAt: number): void {
    const rtt = this.#clock.now() - sentAt;
    this.#rtts[this.#rttNext] = rtt;
    this.#rttNext = (this.#rttNext + 1) % RTT_SAMPLES;
    let quickest = rtt;
    for (const r of this.#rtts) if (r < quickest) quickest = r;
    this.#leftAt(sentAt + (rtt - quickest));
  }

  /**
   * Strict spacing: one request at a time through a turnstile, each at least `1/rate` after the
   * one before it actually left — not after the slot it was given. Slots reserved ahead each
   * wake on their own (millisecond) timer, so a late one and a punctual one can leave closer
   * than 1/rate, and a bucket of one token refuses the second.
   */
  async #acquireStrict(signal?: AbortSignal): Promise<void> {
    const before = this.#turn;
    let release!: () => void;
    this.#turn = new Promise<void>((resolve) => (release = resolve));
    try {
      await (signal ? untilAborted(before, signal) : before);
      for (;;) {
        if (signal?.aborted) return;
        const now = this.#clock.now();
        const due = Math.max(this.#pausedUntil, this.#lastLeft + this.#intervalMs);
        if (due <= now) {
          this.#lastLeft = now;
          this.#next = now + this.#intervalMs;
          return;
        }
        // A pause (or a timer that fired early) is looked at again on waking.
        const clock = this.#clock;
        await (clock.sleepPrecisely ? clock.sleepPrecisely(due - now, signal) : clock.sleep(due - now, signal));
      }
    } finally {
      release();
    }
  }
}

/** `turn`, or the abort of `signal` if that comes first (an aborted request gives up its place in line). */
function untilAborted(turn: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void turn.then(done);
  });
}

/** How many recent answers set the norm a late one is measured against. */
const RTT_SAMPLES = 32;

function checkRate(rate: number): number {
  if (!Number.isFinite(rate) || rate <= 0) throw new RangeError(`rate must be a positive number, got ${rate}`);
  return rate;
}

/** A tenth of a second's worth of requests, at least one. */
function defaultBurst(rate: number): number {
  return Math.max(1, Math.floor(rate / 10));
}
