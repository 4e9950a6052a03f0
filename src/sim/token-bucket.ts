/**
 * Token bucket: `rate` tokens per second, at most `burst` stored, starting full.
 * One per API key; every authenticated request takes a token. A refused request takes none.
 */
export interface TakeResult {
  ok: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Seconds until one token is available (0 when one already is). */
  waitSeconds: number;
  /** Seconds until the bucket is full again. */
  fullSeconds: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Try to take one token at time `now` (ms, monotonic). */
  take(now: number): TakeResult {
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.rate);
    const ok = this.tokens >= 1;
    if (ok) this.tokens -= 1;
    return {
      ok,
      remaining: Math.floor(this.tokens),
      waitSeconds: this.tokens >= 1 ? 0 : (1 - this.tokens) / this.rate,
      fullSeconds: (this.burst - this.tokens) / this.rate,
    };
  }
}
