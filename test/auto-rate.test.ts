import { describe, expect, it } from '@jest/globals';
import { AutoRate, parsePolicyRate } from '../src/runner/auto-rate.js';
import { RateLimiter } from '../src/runner/rate-limiter.js';
import { TokenBucket } from '../src/sim/token-bucket.js';
import { FakeClock } from './helpers/fake-clock.js';

/** A clock whose time is set by hand (AutoRate only reads it). */
class ManualClock {
  t = 1_000_000;
  now = () => this.t;
  sleep = () => Promise.resolve();
}

/** `count` successes spread evenly over `ms`. */
function succeed(auto: AutoRate, limiter: RateLimiter, clock: ManualClock, count: number, ms: number): void {
  for (let i = 1; i <= count; i++) {
    clock.t += ms / count;
    auto.onSuccess(limiter);
  }
}

function setup(initial = 10) {
  const clock = new ManualClock();
  const auto = new AutoRate({ initial, clock });
  const limiter = new RateLimiter(auto.rate, { clock });
  return { clock, auto, limiter };
}

describe('AutoRate', () => {
  it('starts modestly and doubles every second the client reached the rate (slow start)', () => {
    const { clock, auto, limiter } = setup(10);
    expect(auto.rate).toBe(10);
    succeed(auto, limiter, clock, 10, 1000);
    expect(auto.rate).toBeCloseTo(20, 0);
    expect(limiter.rate).toBeCloseTo(20, 0);
    succeed(auto, limiter, clock, 20, 1000);
    expect(auto.rate).toBeCloseTo(40, 0);
    expect(auto.phase).toBe('slow-start');
  });

  it('does not grow when the client could not reach the rate (concurrency- or latency-bound)', () => {
    const { clock, auto, limiter } = setup(100);
    for (let s = 0; s < 10; s++) succeed(auto, limiter, clock, 50, 1000); // half the rate
    expect(auto.rate).toBe(100);
  });

  it('halves on the first 429 in slow start, and cuts once per second only', () => {
    const { clock, auto, limiter } = setup(80);
    auto.on429(limiter);
    expect(auto.rate).toBe(40);
    clock.t += 10;
    auto.on429(limiter); // same overshoot: the other requests in flight
    clock.t += 500;
    auto.on429(limiter);
    expect(auto.rate).toBe(40);
    expect(auto.cuts).toBe(1);
    expect(auto.phase).toBe('probing');
    clock.t += 600;
    auto.on429(limiter);
    expect(auto.rate).toBeCloseTo(28, 5); // ×0.7 once probing, no estimate yet (span < 2 s)
    expect(auto.cuts).toBe(2);
  });

  it('measures the server rate between two 429 clusters and settles just under it', () => {
    const { clock, auto, limiter } = setup(160);
    auto.on429(limiter); // bucket empty: 160 → 80
    clock.t += 1000; // the Retry-After pause
    succeed(auto, limiter, clock, 240, 3000); // the server took 60/s for 4 s
    auto.on429(limiter); // empty again
    expect(auto.measured).toBeCloseTo(60, 5);
    expect(auto.rate).toBeCloseTo(0.97 * 60, 5);
  });

  it('probes slowly near the measured limit, faster well below it', () => {
    const { clock, auto, limiter } = setup(160);
    auto.on429(limiter);
    clock.t += 1000;
    succeed(auto, limiter, clock, 240, 3000);
    auto.on429(limiter);
    const settled = auto.rate;
    succeed(auto, limiter, clock, 58, 1000);
    expect(auto.rate / settled).toBeCloseTo(1.005, 3);
  });

  it('takes an announced RateLimit-Policy and never probes past it', () => {
    const { clock, auto, limiter } = setup(10);
    auto.onResponse(limiter, { status: 200, headers: { 'ratelimit-policy': '60;w=1', 'ratelimit-remaining': '59' } });
    expect(auto.phase).toBe('announced');
    expect(auto.rate).toBeCloseTo(59.4, 5);
    for (let s = 0; s < 20; s++) succeed(auto, limiter, clock, 60, 1000);
    expect(auto.rate).toBeCloseTo(59.4, 5);
  });

  it('stops growing while Remaining is low and caps at limit/reset when it reaches 0', () => {
    const { clock, auto, limiter } = setup(40);
    auto.onResponse(limiter, { status: 200, headers: { 'x-ratelimit-limit': '50', 'x-ratelimit-remaining': '3', 'x-ratelimit-reset': '1' } });
    succeed(auto, limiter, clock, 40, 1000);
    expect(auto.rate).toBe(40); // held: no increase this window
    succeed(auto, limiter, clock, 40, 1000);
    expect(auto.rate).toBe(80); // not held any more
    auto.onResponse(limiter, { status: 200, headers: { 'ratelimit-limit': '50', 'ratelimit-remaining': '0', 'ratelimit-reset': '2' } });
    expect(auto.rate).toBe(25);
  });

  it('ignores responses without pacing headers', () => {
    const { auto, limiter } = setup(10);
    auto.onResponse(limiter, { status: 200, headers: {} });
    expect(auto.rate).toBe(10);
    expect(auto.phase).toBe('slow-start');
  });
});

describe('parsePolicyRate', () => {
  it.each([
    ['60;w=1', 60],
    ['120;w=2', 60],
    ['100;w=60, 1000;w=3600', 1000 / 3600],
    ['"default";q=100;w=60', 100 / 60],
    ['10', undefined],
    ['garbage', undefined],
    ['0;w=1', undefined],
  ])('%s → %s', (value, rate) => {
    const got = parsePolicyRate(value);
    if (rate === undefined) expect(got).toBeUndefined();
    else expect(got).toBeCloseTo(rate, 6);
  });
});

/**
 * Closed loop, fake time: `concurrency` workers send through the real RateLimiter to a token
 * bucket (the simulator's), a 429 pauses the whole limiter for a second (Retry-After: 1) as the
 * executor does. Returns what the server accepted per second after `settleMs`, and the 429s.
 */
async function closedLoop(limit: number, opts: { durationMs: number; settleMs: number; latencyMs: number; concurrency: number; headers?: boolean }) {
  const clock = new FakeClock();
  const auto = new AutoRate({ clock });
  const limiter = new RateLimiter(auto.rate, { clock });
  const bucket = new TokenBucket(limit, limit, clock.now());
  const start = clock.now();
  const end = start + opts.durationMs;
  let accepted = 0;
  let acceptedAfterSettle = 0;
  let rejected = 0;
  const worker = async () => {
    while (clock.now() < end) {
      await limiter.acquire();
      if (clock.now() >= end) return;
      const taken = bucket.take(clock.now());
      await clock.sleep(opts.latencyMs);
      if (opts.headers) {
        auto.onResponse(limiter, {
          status: taken.ok ? 200 : 429,
          headers: { 'ratelimit-limit': String(limit), 'ratelimit-remaining': String(taken.remaining), 'ratelimit-reset': String(Math.ceil(taken.fullSeconds)) },
        });
      }
      if (taken.ok) {
        accepted++;
        if (clock.now() - start >= opts.settleMs) acceptedAfterSettle++;
        auto.onSuccess(limiter);
      } else {
        rejected++;
        auto.on429(limiter);
        limiter.pauseUntil(clock.now() + 1000);
      }
    }
  };
  const workers = Array.from({ length: opts.concurrency }, worker);
  await clock.advance(opts.durationMs + 100, 5);
  await Promise.all(workers);
  return {
    overall: accepted / (opts.durationMs / 1000) / limit,
    settled: acceptedAfterSettle / ((opts.durationMs - opts.settleMs) / 1000) / limit,
    share429: rejected / (accepted + rejected),
    auto,
  };
}

describe('AutoRate against a token bucket (fake time)', () => {
  it('settles near an unannounced 60/s with few 429s', async () => {
    const r = await closedLoop(60, { durationMs: 60_000, settleMs: 15_000, latencyMs: 20, concurrency: 8 });
    expect(r.settled).toBeGreaterThanOrEqual(0.9);
    expect(r.settled).toBeLessThanOrEqual(1.02);
    expect(r.overall).toBeGreaterThanOrEqual(0.85);
    expect(r.share429).toBeLessThanOrEqual(0.02);
    expect(r.auto.measured).toBeDefined();
  });

  it('finds a limit far from where it starts (1000/s)', async () => {
    const r = await closedLoop(1000, { durationMs: 30_000, settleMs: 15_000, latencyMs: 5, concurrency: 32 });
    expect(r.settled).toBeGreaterThanOrEqual(0.85);
    expect(r.share429).toBeLessThanOrEqual(0.02);
  });

  it('uses RateLimit-Remaining/Reset when sent: fewer 429s', async () => {
    const r = await closedLoop(60, { durationMs: 30_000, settleMs: 10_000, latencyMs: 20, concurrency: 8, headers: true });
    expect(r.settled).toBeGreaterThanOrEqual(0.9);
    expect(r.share429).toBeLessThanOrEqual(0.01);
  });
});
