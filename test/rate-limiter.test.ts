import { describe, expect, it } from '@jest/globals';
import { systemClock } from '../src/runner/clock.js';
import { RateLimiter } from '../src/runner/rate-limiter.js';
import { FakeClock, flush, LateClock } from './helpers/fake-clock.js';

/** Start `n` acquirers and record the (fake) time each one is admitted. */
function admitTimes(limiter: RateLimiter, clock: FakeClock, n: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) void limiter.acquire().then(() => times.push(clock.now()));
  return times;
}

describe('RateLimiter', () => {
  it('spaces requests evenly at the rate, after a burst of a tenth of a second', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(40, { clock });
    const t0 = clock.now();
    const times = admitTimes(limiter, clock, 44);
    await flush();
    expect(times.length).toBe(4); // burst = 40/10
    await clock.advance(1000);
    expect(times.length).toBe(44);
    const gaps = times.slice(4).map((t, i) => t - (times[i + 3] ?? t0));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(25);
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(26);
  });

  it('never admits more than the server bucket allows over any window', async () => {
    const clock = new FakeClock();
    const rate = 20;
    const limiter = new RateLimiter(rate, { clock });
    const times = admitTimes(limiter, clock, 200);
    await clock.advance(10_000, 5);
    expect(times.length).toBe(200);
    // A token bucket of `rate` tokens refilled at `rate`/s accepts at most rate + rate*w in w s.
    for (let i = 0; i < times.length; i++) {
      const windowEnd = times[i]! + 1000;
      const inWindow = times.filter((t) => t >= times[i]! && t < windowEnd).length;
      expect(inWindow).toBeLessThanOrEqual(rate * 2);
    }
    const spanS = (times.at(-1)! - times[0]!) / 1000;
    expect(199 / spanS).toBeLessThanOrEqual(rate * 1.02);
    expect(199 / spanS).toBeGreaterThanOrEqual(rate * 0.98);
  });

  it('pauseUntil holds every request, including those already waiting for a slot', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(10, { clock });
    const times = admitTimes(limiter, clock, 3);
    await flush();
    expect(times.length).toBe(1);
    const pausedAt = clock.now();
    limiter.pauseUntil(pausedAt + 2000);
    await clock.advance(1999, 10);
    expect(times.length).toBe(1);
    await clock.advance(500, 10);
    expect(times.length).toBe(3);
    expect(Math.min(...times.slice(1))).toBeGreaterThanOrEqual(pausedAt + 2000);
  });

  /** Gaps between consecutive admissions, after the first `burst` (admitted back to back). */
  function steadyGaps(times: number[], burst: number): number[] {
    return times.slice(burst).map((t, i) => t - times[i + burst - 1]!);
  }

  it.each([
    // [from, to]: burst is a tenth of a second's worth, so 10/s → 1, 50/s → 5, 5/s → 1.
    [10, 50],
    [50, 5],
  ])('setRate changes the spacing from then on (%i/s → %i/s)', async (from, to) => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(from, { clock });
    const burstOf = (rate: number) => Math.max(1, Math.floor(rate / 10));

    const before = admitTimes(limiter, clock, 12);
    await flush();
    expect(before.length).toBe(burstOf(from));
    await clock.advance(12 * (1000 / from) + 100);
    expect(before.length).toBe(12);
    for (const gap of steadyGaps(before, burstOf(from))) expect(gap).toBeCloseTo(1000 / from, 0);

    limiter.setRate(to);
    expect(limiter.rate).toBe(to);
    // Let the schedule go idle, so the new burst starts from a clean slate.
    await clock.advance(1000);
    const after = admitTimes(limiter, clock, 12);
    await flush();
    expect(after.length).toBe(burstOf(to)); // the new burst, admitted at once
    await clock.advance(12 * (1000 / to) + 100);
    expect(after.length).toBe(12);
    const gaps = steadyGaps(after, burstOf(to));
    expect(gaps.length).toBe(12 - burstOf(to));
    for (const gap of gaps) expect(gap).toBeCloseTo(1000 / to, 0);
  });

  it('tryAcquire takes a slot only when one is due now, as acquire would (and never during a pause or strict spacing)', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(20, { clock }); // burst 2, a slot per 50 ms
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false); // the burst is spent: nothing taken
    const waiting = admitTimes(limiter, clock, 1);
    await flush();
    expect(waiting).toEqual([]); // acquire still waits for the slot tryAcquire did not take
    await clock.advance(50);
    expect(waiting).toEqual([clock.now()]);
    await clock.advance(200);
    limiter.pauseUntil(clock.now() + 100);
    expect(limiter.tryAcquire()).toBe(false);
    await clock.advance(100);
    expect(limiter.tryAcquire()).toBe(true);
    limiter.capBurst(1);
    await clock.advance(1000);
    expect(limiter.tryAcquire()).toBe(false); // strict spacing takes turns: always through acquire
  });

  it('rejects a rate that is not a positive number', () => {
    expect(() => new RateLimiter(0)).toThrow(/positive/);
    expect(() => new RateLimiter(Number.NaN)).toThrow(/positive/);
  });

  it('an aborted acquire resolves without waiting', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(1, { clock });
    await limiter.acquire();
    const controller = new AbortController();
    let done = false;
    void limiter.acquire(controller.signal).then(() => (done = true));
    await flush();
    expect(done).toBe(false);
    controller.abort();
    await flush();
    expect(done).toBe(true);
  });

  describe('strict spacing (capBurst(1): a server bucket of one token)', () => {
    const gapsOf = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

    it('never admits two requests closer than 1/rate, however late the timers fire', async () => {
      const clock = new LateClock(3, { preciseLate: true });
      const strict = new RateLimiter(50, { clock });
      strict.capBurst(1);
      const times = admitTimes(strict, clock, 100);
      await clock.advance(4000, 0.25);
      expect(times.length).toBe(100);
      for (const gap of gapsOf(times)) expect(gap).toBeGreaterThanOrEqual(20 - 1e-9);
    });

    it('the same late timers bring reserved slots closer than 1/rate without the cap', async () => {
      const clock = new LateClock();
      const loose = new RateLimiter(50, { clock });
      const times = admitTimes(loose, clock, 100);
      await clock.advance(4000, 0.25);
      expect(times.length).toBe(100);
      expect(Math.min(...gapsOf(times).slice(5))).toBeLessThan(19);
    });

    it('requests already waiting when the cap comes take their turns too', async () => {
      const clock = new FakeClock();
      const limiter = new RateLimiter(50, { clock });
      const times = admitTimes(limiter, clock, 30);
      await flush();
      expect(times.length).toBe(5); // the catch-up burst of a tenth of a second, before the cap
      limiter.pauseUntil(clock.now() + 100); // a 429: everyone waiting sleeps through it
      limiter.capBurst(1);
      expect(limiter.strict).toBe(true);
      await clock.advance(2000, 0.25);
      expect(times.length).toBe(30);
      const after = times.slice(5);
      expect(after[0]).toBeGreaterThanOrEqual(times[0]! + 100);
      for (const gap of gapsOf(after)) expect(gap).toBeGreaterThanOrEqual(20 - 1e-9);
    });

    it('counts the next turn from when the request was sent (markSent), not from its turn', async () => {
      const clock = new FakeClock();
      const limiter = new RateLimiter(50, { clock });
      limiter.capBurst(1);
      await limiter.acquire();
      const turn = clock.now();
      await clock.advance(7); // a journal write, a garbage collection
      limiter.markSent();
      const times = admitTimes(limiter, clock, 1);
      await clock.advance(40, 0.25);
      expect(times[0]).toBeGreaterThanOrEqual(turn + 7 + 20);
    });

    it('a late answer moves the next turn: 1/rate from when the server most likely took the request (markWritten)', async () => {
      const clock = new FakeClock();
      expect(new RateLimiter(50, { clock }).markWritten()).toBeUndefined(); // not strict: nothing to tell, no cost
      const limiter = new RateLimiter(50, { clock }); // 20 ms apart
      limiter.capBurst(1);
      const first = admitTimes(limiter, clock, 1);
      await flush();
      expect(first.length).toBe(1);
      /** Send now, answered `rttMs` later: when the next turn comes, less the send time. */
      const turnAfter = async (rttMs: number): Promise<number> => {
        const sentAt = clock.now();
        const answered = limiter.markWritten()!;
        await clock.advance(rttMs, 0.25);
        answered();
        const next = admitTimes(limiter, clock, 1);
        await clock.advance(12, 0.25);
        return next[0]! - sentAt;
      };
      // Answers 10 ms after the send, the norm: the next turn is 20 ms after the send.
      for (let i = 0; i < 3; i++) {
        const gap = await turnAfter(10);
        expect(gap).toBeGreaterThanOrEqual(20 - 1e-9);
        expect(gap).toBeLessThan(20.5);
      }
      // One answered 6 ms late: the server took it ~6 ms after it was sent, so the next request
      // goes 20 ms after that (sent on time, it would reach a bucket of one token 14 ms behind it).
      const gap = await turnAfter(16);
      expect(gap).toBeGreaterThanOrEqual(6 + 20 - 1e-9);
      expect(gap).toBeLessThan(6 + 20.5);
    });

    it('holds every turn through a pause, and an aborted turn resolves at once', async () => {
      const clock = new FakeClock();
      const limiter = new RateLimiter(50, { clock });
      limiter.capBurst(1);
      const start = clock.now();
      limiter.pauseUntil(start + 1000);
      const times = admitTimes(limiter, clock, 3);
      const controller = new AbortController();
      let aborted = false;
      void limiter.acquire(controller.signal).then(() => (aborted = true));
      await clock.advance(999);
      expect(times.length).toBe(0);
      controller.abort();
      await flush();
      expect(aborted).toBe(true);
      await clock.advance(100, 0.25);
      expect(times.length).toBe(3);
      expect(times[0]).toBeGreaterThanOrEqual(start + 1000);
      for (const gap of gapsOf(times)) expect(gap).toBeGreaterThanOrEqual(20 - 1e-9);
    });
  });

  it('systemClock.sleepPrecisely never wakes early', async () => {
    for (const ms of [0.3, 1, 2.5, 7]) {
      const t0 = performance.now();
      await systemClock.sleepPrecisely!(ms);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(ms);
    }
  });
});
