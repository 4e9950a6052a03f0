import { describe, expect, test } from '@jest/globals';
import { HttpError, ListShapeError, NetworkError, ReimageError, TimeoutError } from '../src/reimage/errors.js';
import {
  DEFAULT_RETRY_OPTIONS,
  backoffCeilingMs,
  decideRetry,
  isRetryable,
  serverDelayMs,
} from '../src/runner/retry-policy.js';
import type { RetryOptions } from '../src/runner/retry-policy.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const opts: RetryOptions = { retries: 5, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 };
const one = () => 0.999999;
const half = () => 0.5;

function http(status: number, headers: Record<string, string> = {}): HttpError {
  return new HttpError({ method: 'POST', path: '/update/x', status, headers });
}
const net = (code: string) => new NetworkError({ method: 'POST', path: '/update/x', code });
const timeout = () => new TimeoutError({ method: 'POST', path: '/update/x', timeoutMs: 200, phase: 'headers' });

describe('defaults', () => {
  test('match the design', () => {
    expect(DEFAULT_RETRY_OPTIONS).toEqual({ retries: 5, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 });
  });
});

describe('what is retried', () => {
  test.each<[string, unknown, boolean]>([
    ['408', http(408), true],
    ['429', http(429), true],
    ['500', http(500), true],
    ['502', http(502), true],
    ['503', http(503), true],
    ['504', http(504), true],
    ['400', http(400), false],
    ['401', http(401), false],
    ['403', http(403), false],
    ['404', http(404), false],
    ['409', http(409), false],
    ['422', http(422), false],
    ['501', http(501), false],
    ['505', http(505), false],
    ['ECONNRESET', net('ECONNRESET'), true],
    ['ECONNREFUSED', net('ECONNREFUSED'), true],
    ['ENOTFOUND', net('ENOTFOUND'), true],
    ['UND_ERR_SOCKET (hang-up)', net('UND_ERR_SOCKET'), true],
    ['timeout', timeout(), true],
    ['a raw ECONNRESET error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), true],
    ['a raw undici socket error', Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), true],
    ['a list shape error', new ListShapeError('bad', {}), false],
    ['a generic ReimageError', new ReimageError('closed'), false],
    ['a TypeError (a bug)', new TypeError('x is undefined'), false],
    ['an abort', new DOMException('aborted', 'AbortError'), false],
    ['not an error at all', 'boom', false],
  ])('%s → %s', (_name, error, expected) => {
    expect(isRetryable(error)).toBe(expected);
  });
});

describe('decideRetry: stops', () => {
  test.each<[string, unknown, string]>([
    ['401 → unauthorized', http(401), 'unauthorized'],
    ['403 → forbidden', http(403), 'forbidden'],
    ['404 → not_found', http(404), 'not_found'],
    ['400 → http', http(400), 'http'],
    ['409 → http', http(409), 'http'],
    ['422 → http', http(422), 'http'],
    ['501 → http', http(501), 'http'],
    ['a non-request error → network', new TypeError('bug'), 'network'],
    ['an abort → network', new DOMException('aborted', 'AbortError'), 'network'],
  ])('%s', (_name, error, reason) => {
    expect(decideRetry(1, error, opts, NOW, half)).toEqual({ retry: false, reason });
  });

  test('a non-retryable status stops on the first attempt even with retries left', () => {
    expect(decideRetry(1, http(404), { ...opts, retries: 100 }, NOW, half)).toEqual({ retry: false, reason: 'not_found' });
  });

  test('after `retries` retries → retries_exhausted', () => {
    // 5 retries allowed: attempts 1..5 may retry (that is retries 1..5), attempt 6 is the last.
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect(decideRetry(attempt, http(503), opts, NOW, half).retry).toBe(true);
    }
    expect(decideRetry(6, http(503), opts, NOW, half)).toEqual({ retry: false, reason: 'retries_exhausted' });
    expect(decideRetry(6, net('ECONNRESET'), opts, NOW, half)).toEqual({ retry: false, reason: 'retries_exhausted' });
  });

  test('retries 0: never retried', () => {
    expect(decideRetry(1, http(500), { ...opts, retries: 0 }, NOW, half)).toEqual({
      retry: false,
      reason: 'retries_exhausted',
    });
  });

  test('exhausted with a Retry-After still stops', () => {
    expect(decideRetry(6, http(429, { 'retry-after': '1' }), opts, NOW, half)).toEqual({
      retry: false,
      reason: 'retries_exhausted',
    });
  });
});

describe('decideRetry: backoff with full jitter', () => {
  test.each([408, 429, 500, 502, 503, 504])('HTTP %i is retried with a reason naming it', (status) => {
    const d = decideRetry(1, http(status), opts, NOW, half);
    expect(d).toEqual({ retry: true, delayMs: 125, reason: `http_${status}` });
  });

  test('network and timeout reasons', () => {
    expect(decideRetry(1, net('ECONNRESET'), opts, NOW, half)).toMatchObject({ retry: true, reason: 'network_ECONNRESET' });
    expect(decideRetry(1, timeout(), opts, NOW, half)).toMatchObject({ retry: true, reason: 'timeout' });
  });

  test.each([
    [1, 250],
    [2, 500],
    [3, 1000],
    [4, 2000],
    [5, 4000],
    [8, 30_000], // 250 * 2^7 = 32 000 → capped
    [60, 30_000], // no overflow
  ])('attempt %i: ceiling %i ms', (attempt, ceiling) => {
    expect(backoffCeilingMs(attempt, opts)).toBe(ceiling);
    const many = { ...opts, retries: 1000 };
    expect(decideRetry(attempt, http(500), many, NOW, () => 0)).toMatchObject({ retry: true, delayMs: 0 });
    const top = decideRetry(attempt, http(500), many, NOW, one);
    expect(top.retry && top.delayMs).toBe(Math.floor(0.999999 * ceiling));
    const mid = decideRetry(attempt, http(500), many, NOW, half);
    expect(mid.retry && mid.delayMs).toBe(ceiling / 2);
  });

  test('jitter stays within [0, ceiling) for many random draws', () => {
    let seed = 42;
    const lcg = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let attempt = 1; attempt <= 5; attempt++) {
      const ceiling = backoffCeilingMs(attempt, opts);
      for (let i = 0; i < 200; i++) {
        const d = decideRetry(attempt, net('ECONNRESET'), opts, NOW, lcg);
        if (!d.retry) throw new Error('expected a retry');
        expect(d.delayMs).toBeGreaterThanOrEqual(0);
        expect(d.delayMs).toBeLessThan(ceiling);
      }
    }
  });

  test('a misbehaving random is clamped', () => {
    expect(decideRetry(1, http(500), opts, NOW, () => 7)).toMatchObject({ delayMs: 250 });
    expect(decideRetry(1, http(500), opts, NOW, () => -1)).toMatchObject({ delayMs: 0 });
  });
});

describe('decideRetry: Retry-After wins', () => {
  test.each<[string, Record<string, string>, number]>([
    ['delta seconds', { 'retry-after': '3' }, 3000],
    ['fractional seconds', { 'retry-after': '0.5' }, 500],
    ['zero', { 'retry-after': '0' }, 0],
    ['HTTP date', { 'retry-after': 'Wed, 15 Jan 2025 12:00:20 GMT' }, 20_000],
    ['capped by maxRetryAfterMs', { 'retry-after': '3600' }, 60_000],
    ['a date far away is capped too', { 'retry-after': 'Thu, 16 Jan 2025 12:00:00 GMT' }, 60_000],
  ])('%s', (_name, headers, delay) => {
    const d = decideRetry(1, http(429, headers), opts, NOW, one);
    expect(d).toEqual({ retry: true, delayMs: delay, reason: 'http_429_retry_after' });
  });

  test('Retry-After beats the backoff ceiling on a late attempt (and is not jittered)', () => {
    expect(decideRetry(5, http(503, { 'retry-after': '45' }), opts, NOW, () => 0)).toMatchObject({ delayMs: 45_000 });
  });

  test('the cap follows the option', () => {
    const d = decideRetry(1, http(429, { 'retry-after': '10' }), { ...opts, maxRetryAfterMs: 2000 }, NOW, half);
    expect(d).toMatchObject({ delayMs: 2000 });
  });

  test('garbage Retry-After falls back to backoff', () => {
    expect(decideRetry(1, http(429, { 'retry-after': 'soon' }), opts, NOW, half)).toEqual({
      retry: true,
      delayMs: 125,
      reason: 'http_429',
    });
  });

  test('on a 429 without Retry-After, a spent rate-limit window is waited out', () => {
    const h = { 'ratelimit-remaining': '0', 'ratelimit-reset': '4' };
    expect(decideRetry(1, http(429, h), opts, NOW, half)).toMatchObject({ delayMs: 4000 });
    expect(serverDelayMs(http(429, { 'x-ratelimit-reset': String(NOW / 1000 + 9) }), NOW, 60_000)).toBe(9000);
    expect(serverDelayMs(http(429, { ratelimit: 'limit=10, remaining=0, reset=100' }), NOW, 60_000)).toBe(60_000);
  });

  test('a rate-limit reset with requests remaining is not a wait', () => {
    const h = { 'ratelimit-remaining': '5', 'ratelimit-reset': '4' };
    expect(decideRetry(1, http(429, h), opts, NOW, half)).toMatchObject({ delayMs: 125 });
  });

  test('a reset hint on a 500 is ignored; Retry-After on a 500 is honoured', () => {
    expect(decideRetry(1, http(500, { 'ratelimit-reset': '4' }), opts, NOW, half)).toMatchObject({ delayMs: 125 });
    expect(decideRetry(1, http(500, { 'retry-after': '2' }), opts, NOW, half)).toMatchObject({ delayMs: 2000 });
  });

  test('non-HTTP errors have no server delay', () => {
    expect(serverDelayMs(net('ECONNRESET'), NOW, 60_000)).toBeUndefined();
  });
});
