/**
 * `--rate auto` (design.md §4): the controller on its own with a clock set by hand, then in a
 * closed loop — the real RequestExecutor and RateLimiter on a FakeClock, against a fake server
 * that keeps a token bucket and answers 429 with `Retry-After: 1` when it is empty (the executor
 * then pauses the whole queue, as in a run). Fake time only: every figure here is exact and the
 * same on any machine; wall-clock figures are the bench's (bench/RESULTS.md).
 */
import { describe, expect, it } from '@jest/globals';
import { HttpError } from '../src/reimage/errors.js';
import { AutoRate, parsePolicyRate, type AutoRateDecision, type PacingInfo } from '../src/runner/auto-rate.js';
import { RequestExecutor } from '../src/runner/executor.js';
import { RateLimiter } from '../src/runner/rate-limiter.js';
import { FakeClock, LateClock } from './helpers/fake-clock.js';
import { seeded } from './helpers/seeded.js';

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

/** A 429, and the pause the executor then puts on the whole queue (Retry-After: 1). */
function refuse(auto: AutoRate, limiter: RateLimiter, clock: ManualClock, pauseMs = 1000): void {
  auto.on429(limiter);
  limiter.pauseUntil(clock.t + pauseMs);
}

/**
 * A controller at `initial`/s. Unless `fresh`, it has already had the one 429 it forgives
 * before slow start's first raise (see the test of that), so the next 429 counts.
 */
function setup(initial = 10, fresh = false) {
  const clock = new ManualClock();
  const decisions: AutoRateDecision[] = [];
  const auto = new AutoRate({ initial, clock, onDecision: (d) => decisions.push(d) });
  const limiter = new RateLimiter(auto.rate, { clock });
  if (!fresh) {
    refuse(auto, limiter, clock);
    clock.t += 1000;
  }
  return { clock, auto, limiter, decisions };
}

describe('AutoRate', () => {
  it('starts modestly and doubles every half second the client reached the rate (slow start)', () => {
    const { clock, auto, limiter } = setup(10, true);
    expect(auto.rate).toBe(10);
    succeed(auto, limiter, clock, 5, 500);
    expect(auto.rate).toBeCloseTo(20, 0);
    expect(limiter.rate).toBeCloseTo(20, 0);
    succeed(auto, limiter, clock, 5, 250);
    expect(auto.rate).toBeCloseTo(28.3, 0);
    expect(auto.phase).toBe('slow-start');
  });

  it('does not grow when the client could not reach the rate (concurrency- or latency-bound)', () => {
    const { clock, auto, limiter } = setup(100, true);
    for (let s = 0; s < 10; s++) succeed(auto, limiter, clock, 50, 1000); // half the rate
    expect(auto.rate).toBe(100);
  });

  it('forgives one 429 before slow start first raised the rate (a start-up stall, more likely than the limit)', () => {
    const { clock, auto, limiter } = setup(10, true);
    refuse(auto, limiter, clock);
    expect(auto.rate).toBe(10);
    expect(auto.cuts).toBe(0);
    clock.t += 1000;
    refuse(auto, limiter, clock);
    expect(auto.rate).toBe(5); // not twice
    expect(auto.cuts).toBe(1);
  });

  it('halves on the first 429; the 429s answered during the pause belong to it', () => {
    const { clock, auto, limiter } = setup(80);
    refuse(auto, limiter, clock);
    expect(auto.rate).toBe(40);
    clock.t += 10;
    auto.on429(limiter); // in flight when the pause began: the same overshoot
    clock.t += 500;
    auto.on429(limiter);
    expect(auto.rate).toBe(40);
    expect(auto.cuts).toBe(1);
    expect(auto.phase).toBe('probing');
  });

  it('fits the refill rate from two episodes at one rate each, whatever the bucket, and settles just under it', () => {
    // The server: 60/s into a bucket of 10 (unknown to the controller). Slow start failed at 160.
    const { clock, auto, limiter, decisions } = setup(160);
    refuse(auto, limiter, clock); // → 80/s
    clock.t += 1000; // the pause: the bucket refills to 10
    succeed(auto, limiter, clock, 40, 500); // 80/s empties it after 10 / (80 − 60) = 0.5 s: 10 + 60 × 0.5 taken
    refuse(auto, limiter, clock); // → 85 % of 80 = 68/s
    expect(auto.rate).toBeCloseTo(68, 5);
    clock.t += 1000;
    succeed(auto, limiter, clock, 85, 1250); // 68/s empties it after 10 / 8 = 1.25 s: 10 + 60 × 1.25
    refuse(auto, limiter, clock);
    expect(auto.measured).toBeCloseTo(60, 5); // the slope: (85 − 40) / (1.25 − 0.5) s
    expect(auto.rate).toBeCloseTo(0.98 * 60, 5);
    expect(decisions.at(-1)).toMatchObject({ reason: 'cut', episodeAccepted: 85 });
    expect(decisions.at(-1)?.episodeMs).toBeCloseTo(1250, 6);
  });

  it('searches between the rate sustained and the rate refused, and settles on the former when they are close', () => {
    const { clock, auto, limiter } = setup(160);
    refuse(auto, limiter, clock); // → 80
    clock.t += 1000;
    succeed(auto, limiter, clock, 32, 400); // refused again soon after
    refuse(auto, limiter, clock); // → 68
    clock.t += 1000;
    succeed(auto, limiter, clock, 150, 2200); // 2 s at 68 without a 429: sustained; 80/68 < 1.2
    expect(auto.measured).toBeCloseTo(68, 5);
    expect(auto.rate).toBeCloseTo(68, 5);
  });

  it('holds after settling, then creeps up; a 429 past the hold goes back to the rate that lasted it', () => {
    const { clock, auto, limiter } = setup(160);
    refuse(auto, limiter, clock);
    clock.t += 1000;
    succeed(auto, limiter, clock, 40, 500);
    refuse(auto, limiter, clock);
    clock.t += 1000;
    succeed(auto, limiter, clock, 85, 1250);
    refuse(auto, limiter, clock);
    const settled = auto.rate; // 58.8
    clock.t += 1000;
    succeed(auto, limiter, clock, Math.round(settled * 2.9), 2900); // within the 4 s hold
    expect(auto.rate).toBe(settled);
    succeed(auto, limiter, clock, Math.round(settled * 8), 8000); // +0.2 %/s under the estimate
    expect(auto.rate / settled).toBeGreaterThan(1.012);
    expect(auto.rate / settled).toBeLessThan(1.018);
    succeed(auto, limiter, clock, Math.round(settled * 6), 6000); // past it, faster and faster
    expect(auto.rate / settled).toBeGreaterThan(1.025);
    refuse(auto, limiter, clock);
    expect(auto.rate).toBeCloseTo(settled, 5);
  });

  it('a resume refused at once (a bucket smaller than the limiter burst): the limiter sends no burst during later pauses', () => {
    const { clock, auto, limiter, decisions } = setup(80);
    refuse(auto, limiter, clock); // → 40
    clock.t += 1000;
    succeed(auto, limiter, clock, 3, 20);
    refuse(auto, limiter, clock); // 60 ms after the resume: the catch-up burst was refused after 3
    expect(decisions.at(-1)?.reason).toBe('resume-refused');
    expect(limiter.strict).toBe(false); // a bucket of 3: bursts of 3 at most, not strict spacing
    expect(auto.rate).toBeGreaterThan(20);
    expect(limiter.rate).toBeLessThan(20); // no burst at all when sending resumes…
    clock.t += 1000;
    succeed(auto, limiter, clock, 1, 20);
    expect(limiter.rate).toBeCloseTo(auto.rate, 9); // …and the rate back with the first answer after it
  });

  it('a resume refused after one request (a bucket of one token): strict spacing from then on', () => {
    const { clock, auto, limiter, decisions } = setup(80);
    refuse(auto, limiter, clock); // → 40
    clock.t += 1000;
    succeed(auto, limiter, clock, 1, 20);
    refuse(auto, limiter, clock);
    expect(decisions.at(-1)?.reason).toBe('resume-refused');
    expect(limiter.strict).toBe(true);
    // Strict spacing sends no burst anyway: the limiter keeps the rate through the pause.
    expect(limiter.rate).toBeCloseTo(auto.rate, 9);
    expect(auto.rate).toBeGreaterThanOrEqual(40);
    expect(auto.rate).toBeLessThan(80);
  });

  it('strict spacing: a rare lone 429 is jitter (the rate stays), one within 20 s steps it down 2 %, two within 5 s 3 %, 10 s of quiet creeps up', () => {
    const { clock, auto, limiter, decisions } = setup(80);
    refuse(auto, limiter, clock);
    clock.t += 1000;
    succeed(auto, limiter, clock, 1, 20);
    refuse(auto, limiter, clock); // a bucket of one token: strict from here
    expect(limiter.strict).toBe(true);
    const settled = auto.rate;
    clock.t += 1000;
    succeed(auto, limiter, clock, Math.round(settled * 2), 2000);
    refuse(auto, limiter, clock); // 3 s after the 429 that showed the bucket: still the first under strict spacing
    expect(decisions.at(-1)?.reason).toBe('noise');
    expect(auto.rate).toBeCloseTo(settled, 9);
    clock.t += 1000;
    succeed(auto, limiter, clock, Math.round(settled * 6), 6000);
    refuse(auto, limiter, clock); // 7 s after the last: lone, but a 1 s pause every 7 s costs more than 2 % of the rate
    expect(decisions.at(-1)?.reason).toBe('cut');
    expect(auto.rate).toBeCloseTo(0.98 * settled, 9);
    clock.t += 1000;
    for (let s = 0; s < 24; s++) succeed(auto, limiter, clock, Math.round(auto.rate), 1000);
    const crept = auto.rate;
    expect(crept).toBeGreaterThan(0.98 * settled); // 10 s of quiet, then +0.5 %/s
    refuse(auto, limiter, clock); // 25 s after the last: lone and rare, the rate stays
    expect(decisions.at(-1)?.reason).toBe('noise');
    expect(auto.rate).toBeCloseTo(crept, 9);
    clock.t += 1000;
    succeed(auto, limiter, clock, Math.round(crept * 2), 2000);
    refuse(auto, limiter, clock); // 3 s after the last: a cluster, over the edge
    expect(decisions.at(-1)?.reason).toBe('cut');
    expect(auto.rate).toBeCloseTo(0.97 * crept, 9);
    const cut = auto.rate;
    clock.t += 1000;
    succeed(auto, limiter, clock, Math.round(cut * 9), 9000);
    expect(auto.rate).toBeCloseTo(cut, 9); // not yet 10 s of quiet
    for (let s = 0; s < 6; s++) succeed(auto, limiter, clock, Math.round(cut), 1000);
    expect(auto.rate).toBeGreaterThan(1.01 * cut);
    expect(auto.rate).toBeLessThan(1.05 * cut); // +0.5 %/s
  });

  it('takes an announced RateLimit-Policy and never probes past it', () => {
    const { clock, auto, limiter } = setup(10, true);
    auto.onResponse(limiter, { status: 200, headers: { 'ratelimit-policy': '60;w=1', 'ratelimit-remaining': '59' } });
    expect(auto.phase).toBe('announced');
    expect(auto.rate).toBeCloseTo(59.4, 5);
    for (let s = 0; s < 20; s++) succeed(auto, limiter, clock, 60, 1000);
    expect(auto.rate).toBeCloseTo(59.4, 5);
    refuse(auto, limiter, clock);
    expect(auto.rate).toBeCloseTo(0.9 * 59.4, 5); // refused all the same: back off…
    clock.t += 1000;
    for (let s = 0; s < 20; s++) succeed(auto, limiter, clock, 60, 1000);
    expect(auto.rate).toBeCloseTo(59.4, 5); // …and return to the announced rate, never past it
    expect(auto.phase).toBe('announced');
  });

  it('stops growing while Remaining is low and caps at limit/reset when it reaches 0', () => {
    const { clock, auto, limiter } = setup(40, true);
    auto.onResponse(limiter, { status: 200, headers: { 'x-ratelimit-limit': '50', 'x-ratelimit-remaining': '3', 'x-ratelimit-reset': '1' } });
    succeed(auto, limiter, clock, 10, 250);
    expect(auto.rate).toBe(40); // held: no increase this window
    succeed(auto, limiter, clock, 10, 250);
    expect(auto.rate).toBeCloseTo(40 * Math.SQRT2, 5); // not held any more: a quarter second of slow start
    auto.onResponse(limiter, { status: 200, headers: { 'ratelimit-limit': '50', 'ratelimit-remaining': '0', 'ratelimit-reset': '2' } });
    expect(auto.rate).toBe(25);
  });

  it('ignores responses without pacing headers', () => {
    const { auto, limiter } = setup(10, true);
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

// ---------------------------------------------------------------------------------------------


interface ServerOptions {
  /** Tokens per second, and the most the bucket holds (it starts full). */
  rate: number;
  burst: number;
  latencyMs: number;
  /** Send RateLimit-Limit/Remaining/Reset with every answer (to `onResponse`). */
  headers?: boolean;
  /**
   * Stalls per second (Poisson), each holding the requests that arrive during it to its end,
   * where they are taken back to back: a busy event loop, the client's or the server's.
   */
  stallsPerSecond?: number;
  stallMs?: number;
  random?: () => number;
  /** Requests (by arrival, from 0) refused whatever the bucket holds: a stall at start-up, say. */
  spurious?: number[];
}

/**
 * A reimage update endpoint behind a token bucket: a token is taken when a request arrives (or,
 * in a stall, when the stall ends); the answer comes `latencyMs` later, 429 with Retry-After: 1
 * when there was none. Counts what it accepted and refused, and when.
 */
function tokenBucketServer(clock: FakeClock, o: ServerOptions, onResponse?: (info: PacingInfo) => void) {
  let rate = o.rate;
  let tokens = o.burst;
  let refilledAt = clock.now();
  const random = o.random ?? seeded(7);
  const nextGap = () => (o.stallsPerSecond ? (-Math.log(1 - random()) * 1000) / o.stallsPerSecond : Number.POSITIVE_INFINITY);
  let nextStall = clock.now() + nextGap();
  let stallEnd = Number.NEGATIVE_INFINITY;
  let arrivals = 0;
  const stats = { accepted: 0, refused: 0, first: undefined as number | undefined, last: 0, acceptedAt: [] as number[] };
  return {
    stats,
    /** The limit changes (the account's tier, another client on it). */
    setRate(next: number) {
      rate = next;
    },
    async update(): Promise<void> {
      let now = clock.now();
      while (now >= nextStall) {
        stallEnd = nextStall + (o.stallMs ?? 30);
        nextStall += nextGap();
      }
      if (now < stallEnd) {
        await clock.sleep(stallEnd - now);
        now = clock.now();
      }
      tokens = Math.min(o.burst, tokens + ((now - refilledAt) * rate) / 1000);
      refilledAt = now;
      const ok = tokens >= 1 && !o.spurious?.includes(arrivals++);
      if (ok) tokens -= 1;
      stats.first ??= now;
      stats.last = now;
      if (ok) {
        stats.accepted++;
        stats.acceptedAt.push(now);
      } else stats.refused++;
      const headers: Record<string, string> = {};
      if (o.headers) {
        headers['ratelimit-limit'] = String(o.burst);
        headers['ratelimit-remaining'] = String(Math.floor(tokens));
        headers['ratelimit-reset'] = String(Math.ceil((o.burst - tokens) / rate));
      }
      await clock.sleep(o.latencyMs);
      onResponse?.({ status: ok ? 200 : 429, headers });
      if (!ok) throw new HttpError({ method: 'POST', path: '/update/x', status: 429, headers: { ...headers, 'retry-after': '1' }, body: '{"error":"Too Many Requests"}' });
    },
  };
}

interface LoopOptions extends ServerOptions {
  /** Updates to send: the run lasts about updates / rate seconds. */
  updates: number;
  concurrency: number;
  /** Change the server's rate to `to` once `atMs` of the run have passed. */
  change?: { atMs: number; to: number };
  /** The client's timers fire up to this late (LateClock; its precise sleeps are on time). */
  lateTimersMs?: number;
}

/**
 * A run in fake time: `updates` updates through the real executor (its queue, its limiter, its
 * 429 pause of the whole queue, its retries) with AutoRate wired as openApiSession wires it.
 * `achieved` is what the server accepted between its first and last request, as the bench counts
 * it (bench/harness.ts serverRate), over its rate.
 */
async function closedLoop(o: LoopOptions) {
  const clock = o.lateTimersMs ? new LateClock(o.lateTimersMs) : new FakeClock();
  const decisions: AutoRateDecision[] = [];
  const auto = new AutoRate({ clock, onDecision: (d) => decisions.push(d) });
  const limiter = new RateLimiter(auto.rate, { clock });
  const server = tokenBucketServer(clock, o, (info) => auto.onResponse(limiter, info));
  const executor = new RequestExecutor(
    limiter,
    { retries: 50, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 },
    o.concurrency,
    { onSuccess: () => auto.onSuccess(limiter), on429: (error) => auto.on429(limiter, error) },
    clock,
    seeded(11),
  );
  let done = 0;
  let failed = 0;
  for (let i = 0; i < o.updates; i++) {
    void executor.execute('write', () => server.update()).then((r) => {
      done++;
      if (!r.ok) failed++;
    });
  }
  const start = clock.now();
  while (done < o.updates) {
    if (o.change && clock.now() - start >= o.change.atMs) {
      server.setRate(o.change.to);
      o = { ...o, change: undefined };
    }
    await clock.advance(100, 1);
    if (clock.now() - start > 3_600_000) throw new Error('the run never ended');
  }
  const { accepted, refused, first, last } = server.stats;
  const seconds = (last - first!) / 1000;
  return {
    achieved: (accepted - 1) / seconds / o.rate,
    share429: refused / (accepted + refused),
    failed,
    seconds,
    auto,
    decisions,
    /** What the server accepted per second from `fromMs` into the run to its end. */
    acceptedRateFrom(fromMs: number) {
      const from = first! + fromMs;
      return server.stats.acceptedAt.filter((t) => t >= from).length / ((last - from) / 1000);
    },
  };
}

describe('AutoRate in a run against an unannounced token bucket (fake time, the real executor)', () => {
  // 60 s of work at the limit: discovery is paid once, as in any run of a few thousand images.
  it.each([
    [10, 0.9],
    [60, 0.9],
    [1, 0.8],
  ])('60/s with a bucket of %d: ≥ %d of the limit, ≤ 2 %% 429s', async (burst, floor) => {
    const r = await closedLoop({ rate: 60, burst, latencyMs: 10, concurrency: 8, updates: 3600 });
    expect(r.failed).toBe(0);
    expect(r.achieved).toBeGreaterThanOrEqual(floor);
    expect(r.achieved).toBeLessThanOrEqual(1 + burst / 60 / r.seconds + 0.001); // the bucket's own ceiling
    expect(r.share429).toBeLessThanOrEqual(0.02);
    expect(r.auto.rate).toBeGreaterThan(0.9 * 60);
    expect(r.auto.rate).toBeLessThan(1.1 * 60);
  });

  it('measures the refill rate within 5 % when the bucket hides it (60/s, bucket 60)', async () => {
    const r = await closedLoop({ rate: 60, burst: 60, latencyMs: 20, concurrency: 8, updates: 1500 });
    const fit = r.decisions.find((d) => d.reason === 'cut' && d.estimate !== undefined);
    expect(fit?.estimate).toBeGreaterThan(0.95 * 60);
    expect(fit?.estimate).toBeLessThan(1.05 * 60);
  });

  it('finds a limit far from where it starts (300/s, bucket 30, 16 in flight)', async () => {
    const r = await closedLoop({ rate: 300, burst: 30, latencyMs: 5, concurrency: 16, updates: 18_000 });
    // 16 requests reserve their slots at 10/s before the first raise: 1.6 s at the start nobody gets back.
    expect(r.achieved).toBeGreaterThanOrEqual(0.75);
    expect(r.share429).toBeLessThanOrEqual(0.01);
    expect(r.auto.rate).toBeGreaterThan(0.9 * 300);
    expect(r.auto.rate).toBeLessThan(1.1 * 300);
  });

  it('stops raising when the client, not the server, is the bound (2 in flight × 50 ms = 40/s)', async () => {
    const r = await closedLoop({ rate: 1000, burst: 1000, latencyMs: 50, concurrency: 2, updates: 1200 });
    expect(r.share429).toBe(0);
    // A raise reaches the server a window late (the slots already reserved), so slow start
    // compares with the window before: it may go two steps past what the client reaches, no more.
    expect(r.auto.rate).toBeLessThan(4 * 40);
    const lastRaise = r.decisions.at(-1)!.at - r.decisions[0]!.at;
    expect(lastRaise).toBeLessThan(5000); // then nothing for the 25 s left
  });

  it('bucket of 1, timers that fire up to 2 ms late: strict spacing, ≥ 80 % of the limit, ≤ 2 % 429s', async () => {
    // A late timer followed by a punctual one brings two reserved slots closer than 1/60 s: a
    // bucket of one token refuses the second. Once the server shows that bucket, the limiter
    // spaces every request from when the one before left.
    const r = await closedLoop({ rate: 60, burst: 1, latencyMs: 10, concurrency: 8, updates: 3600, lateTimersMs: 2 });
    expect(r.failed).toBe(0);
    expect(r.achieved).toBeGreaterThanOrEqual(0.8);
    expect(r.share429).toBeLessThanOrEqual(0.02);
    expect(r.decisions.some((d) => d.reason === 'resume-refused')).toBe(true);
  });

  it('does not collapse when stalls bunch requests into a bucket of 1 (429s that are not the rate)', async () => {
    const r = await closedLoop({ rate: 60, burst: 1, latencyMs: 10, concurrency: 8, updates: 3600, stallsPerSecond: 0.3, stallMs: 30 });
    expect(r.share429).toBeLessThanOrEqual(0.02);
    // Each stall costs a 1 s pause whatever the rate (≈ 30 % of the time here): no controller
    // gets near the limit, and stepping down on every one of them would only lose more.
    expect(r.auto.rate).toBeGreaterThan(0.5 * 60);
    expect(r.achieved).toBeGreaterThanOrEqual(0.5);
  });

  it.each([1, 10])('gets over a 429 that was not the rate, at the very start (bucket %d)', async (burst) => {
    // The third request refused at 10/s (a stall bunched it with the second, say): slow start
    // ends long before the limit, and the creep has to find it.
    const r = await closedLoop({ rate: 60, burst, latencyMs: 10, concurrency: 8, updates: 3600, spurious: [2] });
    expect(r.acceptedRateFrom(40_000)).toBeGreaterThan(0.85 * 60);
    expect(r.share429).toBeLessThanOrEqual(0.02);
  });

  it('follows a limit that falls, and finds one that rises', async () => {
    const down = await closedLoop({ rate: 60, burst: 10, latencyMs: 10, concurrency: 8, updates: 3000, change: { atMs: 30_000, to: 30 } });
    expect(down.acceptedRateFrom(45_000)).toBeGreaterThan(0.85 * 30);
    expect(down.auto.rate).toBeLessThan(1.1 * 30);
    expect(down.share429).toBeLessThanOrEqual(0.02);
    // A risen limit is found by the creep, slow at first (a probe past the limit costs a pause).
    const up = await closedLoop({ rate: 30, burst: 10, latencyMs: 10, concurrency: 8, updates: 9000, change: { atMs: 30_000, to: 60 } });
    expect(up.acceptedRateFrom(90_000)).toBeGreaterThan(0.85 * 60);
  });

  it('uses RateLimit-Remaining/Reset when sent: fewer 429s still', async () => {
    const r = await closedLoop({ rate: 60, burst: 60, latencyMs: 20, concurrency: 8, updates: 2400, headers: true });
    expect(r.achieved).toBeGreaterThanOrEqual(0.9);
    expect(r.share429).toBeLessThanOrEqual(0.01);
  });
});
