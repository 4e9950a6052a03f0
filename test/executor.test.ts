/**
 * The request executor (design.md §4): one queue for concurrency, one limiter for the rate,
 * retries by the pure policy. Time is a FakeClock shared by the limiter and the retry waits.
 */
import { describe, expect, it } from '@jest/globals';
import { HttpError } from '../src/reimage/errors.js';
import { RequestExecutor } from '../src/runner/executor.js';
import { RateLimiter } from '../src/runner/rate-limiter.js';
import type { RetryOptions } from '../src/runner/retry-policy.js';
import { FakeClock, flush } from './helpers/fake-clock.js';

const retry: RetryOptions = { retries: 3, baseDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 };
const http = (status: number, headers: Record<string, string> = {}) =>
  new HttpError({ method: 'POST', path: '/update/x', status, headers, body: '{"error":"x"}' });

function setup(concurrency: number, rate = 1000) {
  const clock = new FakeClock();
  const limiter = new RateLimiter(rate, { clock });
  // random() = 1: the full-jitter backoff waits its whole ceiling, so waits are predictable.
  const executor = new RequestExecutor(limiter, retry, concurrency, {}, clock, () => 1);
  return { clock, limiter, executor };
}

/** A request whose replies are scripted: each call takes the next step (an error to throw, or a value). */
function scripted<T = string>(...steps: Array<T | Error>) {
  let calls = 0;
  const send = async () => {
    const step = steps[Math.min(calls++, steps.length - 1)];
    if (step instanceof Error) throw step;
    return step as T;
  };
  return { send, calls: () => calls };
}

describe('RequestExecutor', () => {
  it('a retry waiting out its backoff holds no concurrency slot', async () => {
    const { clock, executor } = setup(1);
    const a = scripted<string>(http(503), 'a');
    const b = scripted('b');
    const order: string[] = [];
    const pa = executor.execute('write', a.send).then((r) => order.push(`a:${r.ok}`));
    await flush();
    expect(a.calls()).toBe(1); // failed once, now waiting 1 s outside the queue
    const pb = executor.execute('write', b.send).then((r) => order.push(`b:${r.ok}`));
    await clock.advance(50, 5);
    expect(order).toEqual(['b:true']); // b ran in the only slot while a waited
    await clock.advance(1100, 10);
    await Promise.all([pa, pb]);
    expect(order).toEqual(['b:true', 'a:true']);
    expect(executor.counters).toMatchObject({ total: 3, writes: 3, retries: 1 });
  });

  it('a 429 pauses the whole queue for its Retry-After, not only its own item', async () => {
    const { clock, executor, limiter } = setup(4);
    const limited = scripted<string>(http(429, { 'retry-after': '2' }), 'ok');
    const start = clock.now();
    const p1 = executor.execute('write', limited.send);
    await flush();
    expect(limiter.pausedUntil).toBe(start + 2000);
    const other = scripted('other');
    let otherDoneAt: number | undefined;
    const p2 = executor.execute('write', other.send).then(() => (otherDoneAt = clock.now()));
    await clock.advance(1900, 20);
    expect(other.calls()).toBe(0); // a different item, still held by the pause
    await clock.advance(300, 10);
    await Promise.all([p1, p2]);
    expect(otherDoneAt).toBeGreaterThanOrEqual(start + 2000);
    expect(executor.counters.status429).toBe(1);
  });

  it('every attempt is counted as a request; a non-retryable status stops at once with its reason', async () => {
    const { clock, executor } = setup(4, 10); // 10/s: a slot every 100 ms
    const flaky = scripted<string>(http(500), http(502), 'done');
    const p = executor.execute('write', flaky.send);
    await clock.advance(10_000, 10);
    expect(await p).toMatchObject({ ok: true, value: 'done', attempts: 3 });
    expect(executor.counters).toMatchObject({ total: 3, retries: 2 });

    const gone = scripted(http(404));
    const q = executor.execute('write', gone.send);
    await clock.advance(500, 10);
    expect(await q).toMatchObject({ ok: false, reason: 'not_found', attempts: 1 });
    const denied = scripted(http(401));
    const r = executor.execute('read', denied.send);
    await clock.advance(500, 10);
    expect(await r).toMatchObject({ ok: false, reason: 'unauthorized', attempts: 1 });
  });

  it('gives up after --retries retries', async () => {
    const { clock, executor } = setup(1);
    const down = scripted(http(503));
    const p = executor.execute('write', down.send);
    await clock.advance(60_000, 100);
    expect(await p).toMatchObject({ ok: false, reason: 'retries_exhausted', attempts: 4 });
  });

  it('abort: queued requests are dropped (aborted), the one in flight finishes', async () => {
    const { executor } = setup(1);
    let release!: (v: string) => void;
    const inFlight = executor.execute('write', () => new Promise<string>((r) => (release = r)));
    const queued = scripted('never');
    const dropped = executor.execute('write', queued.send);
    await flush();
    executor.abort('interrupted by SIGINT');
    expect(await dropped).toMatchObject({ ok: false, reason: 'aborted', attempts: 0 });
    release('finished');
    expect(await inFlight).toMatchObject({ ok: true, value: 'finished' });
    expect(queued.calls()).toBe(0);
  });

  it('abort after a later-queued request ran and settled: every one still queued is dropped, every one running finishes', async () => {
    const { executor } = setup(1);
    const releases = new Map<string, (v: string) => void>();
    const sends: string[] = [];
    const request = (kind: 'read' | 'write', name: string) =>
      executor.execute(kind, () => {
        sends.push(name);
        return new Promise<string>((r) => releases.set(name, r));
      });
    const a = request('write', 'a');
    const w1 = request('write', 'w1');
    const w2 = request('write', 'w2');
    const r = request('read', 'r'); // queued last, starts first: reads go ahead of writes
    const w3 = request('write', 'w3');
    await flush();
    releases.get('a')!('a done');
    await flush();
    expect(sends).toEqual(['a', 'r']);
    releases.get('r')!('r done'); // r leaves the waiting list from its middle: w1, w2 stay on it
    await flush();
    expect(sends).toEqual(['a', 'r', 'w1']);
    executor.abort('interrupted by SIGINT');
    expect(await w2).toMatchObject({ ok: false, reason: 'aborted', attempts: 0 });
    expect(await w3).toMatchObject({ ok: false, reason: 'aborted', attempts: 0 });
    releases.get('w1')!('w1 done');
    expect(await a).toMatchObject({ ok: true, value: 'a done' });
    expect(await r).toMatchObject({ ok: true, value: 'r done' });
    expect(await w1).toMatchObject({ ok: true, value: 'w1 done' });
    expect(sends).toEqual(['a', 'r', 'w1']);
  });
});
