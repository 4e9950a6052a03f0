/**
 * How many writes the scan lets wait in the queue before it reads the next page (issue 10: the
 * read-to-write window). Every queued write is a write whose tags were read earlier: the more
 * wait, the older the read a write is based on. Enough must wait to keep the connections busy
 * while the next page is read (drain rate × page read time), and no more than that, twice over,
 * plus the concurrency. Pure: the engine feeds it its own measurements.
 */
export class ReadAhead {
  readonly #floor: number;
  readonly #cap: number;
  #drainPerMs: number | undefined;
  #readMs: number | undefined;
  #lastAt: number | undefined;
  #lastEnded = 0;

  /** `cap`: the most ever allowed to wait. */
  constructor(concurrency: number, cap: number) {
    this.#floor = Math.min(cap, Math.max(16, 2 * concurrency));
    this.#cap = cap;
  }

  /**
   * A page arrived `readMs` after it was asked for; `writesEnded` writes had finished by `now`
   * (ms, any monotonic clock).
   */
  pageRead(now: number, readMs: number, writesEnded: number): void {
    this.#readMs = this.#readMs === undefined ? readMs : 0.7 * this.#readMs + 0.3 * readMs;
    if (this.#lastAt !== undefined && now > this.#lastAt) {
      const rate = (writesEnded - this.#lastEnded) / (now - this.#lastAt);
      // Only a stretch that wrote says how fast writes drain (the first pages may write nothing).
      if (rate > 0) this.#drainPerMs = this.#drainPerMs === undefined ? rate : 0.7 * this.#drainPerMs + 0.3 * rate;
    }
    this.#lastAt = now;
    this.#lastEnded = writesEnded;
  }

  /** The backlog to wait for before reading the next page. */
  limit(): number {
    // Until measured: the floor (a starved pipe measures a slow drain, and the limit then grows).
    if (this.#drainPerMs === undefined || this.#readMs === undefined) return this.#floor;
    const cover = Math.ceil(2 * this.#drainPerMs * this.#readMs);
    return Math.min(this.#cap, Math.max(this.#floor, cover + this.#floor));
  }
}
