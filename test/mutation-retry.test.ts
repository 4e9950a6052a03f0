/**
 * Tables for the retry policy and the server's pacing hints, for the cases the mutation run
 * (`npm run mutate`) found unpinned. design.md §4: retried are network errors (reset, refused,
 * DNS, socket hang-up), the request timeout, 408, 429, 500, 502, 503, 504; `Retry-After`
 * (seconds or HTTP date) wins, capped by --max-retry-after; the rate-limit headers
 * (`RateLimit-*`, `X-RateLimit-*`) are used when a server sends them.
 */
import { describe, expect, test } from '@jest/globals';
import { HttpError } from '../src/reimage/errors.js';
import { parseRateLimitHeaders, parseRetryAfter } from '../src/runner/retry-after.js';
import { decideRetry, isRetryable, serverDelayMs, type RetryOptions } from '../src/runner/retry-policy.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0); // Wed, 15 Jan 2025 12:00:00 GMT
const opts: RetryOptions = { retries: 5, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 };
const half = () => 0.5;
const http = (status: number, headers: Record<string, string> = {}) =>
  new HttpError({ method: 'POST', path: '/update/x', status, headers });
/** An error as Node or undici throws it, before the client wraps it. */
const raw = (code: unknown) => Object.assign(new Error(`raw ${String(code)}`), { code });

describe('a raw Node/undici error that escaped wrapping is retried by its code', () => {
  test.each([
    'ECONNRESET',
    'ECONNREFUSED',
    'ECONNABORTED',
    'ENOTFOUND',
    'EAI_AGAIN',
    'ETIMEDOUT',
    'EPIPE',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ENETDOWN',
    'UND_ERR_SOCKET',
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_BODY_TIMEOUT',
  ])('%s: retried, the reason names the code', (code) => {
    expect(isRetryable(raw(code))).toBe(true);
    expect(decideRetry(1, raw(code), opts, NOW, half)).toEqual({ retry: true, delayMs: 125, reason: `network_${code}` });
  });

  test.each<[string, unknown]>([
    ['an unknown code', raw('ERR_INVALID_ARG_TYPE')],
    ['a code that is not a string', raw(104)],
    ['a code in another case', raw('econnreset')],
    ['an object without a code', { message: 'ECONNRESET' }],
    ['null', null],
    ['undefined', undefined],
  ])('%s: not retried, stops as network', (_name, error) => {
    expect(isRetryable(error)).toBe(false);
    expect(decideRetry(1, error, opts, NOW, half)).toEqual({ retry: false, reason: 'network' });
  });
});

describe('serverDelayMs: the wait the server asked for', () => {
  test('a 429 or 503 with a reset and no remaining count: the reset is the wait', () => {
    expect(serverDelayMs(http(429, { 'ratelimit-reset': '4' }), NOW, 60_000)).toBe(4000);
    expect(serverDelayMs(http(503, { 'x-ratelimit-reset-after': '2' }), NOW, 60_000)).toBe(2000);
  });

  test('a 503 with a spent window waits it out; with requests left it does not', () => {
    expect(serverDelayMs(http(503, { 'ratelimit-remaining': '0', 'ratelimit-reset': '3' }), NOW, 60_000)).toBe(3000);
    expect(serverDelayMs(http(503, { 'ratelimit-remaining': '1', 'ratelimit-reset': '3' }), NOW, 60_000)).toBeUndefined();
  });

  test('a 429 with neither Retry-After nor a reset: no server delay (backoff decides)', () => {
    expect(serverDelayMs(http(429, { 'ratelimit-remaining': '0' }), NOW, 60_000)).toBeUndefined();
    expect(serverDelayMs(http(429), NOW, 60_000)).toBeUndefined();
  });

  test('the reset is capped like Retry-After, and a small cap still applies', () => {
    expect(serverDelayMs(http(429, { 'ratelimit-reset': '30' }), NOW, 1000)).toBe(1000);
    expect(serverDelayMs(http(429, { 'retry-after': '30' }), NOW, 1000)).toBe(1000);
    expect(serverDelayMs(http(429, { 'retry-after': '0.2' }), NOW, 1000)).toBe(200);
  });

  test('Retry-After wins over a rate-limit reset', () => {
    expect(serverDelayMs(http(429, { 'retry-after': '1', 'ratelimit-reset': '9' }), NOW, 60_000)).toBe(1000);
  });

  test('decideRetry names a server-asked wait in its reason', () => {
    expect(decideRetry(2, http(503, { 'ratelimit-reset': '4' }), opts, NOW, half)).toEqual({
      retry: true,
      delayMs: 4000,
      reason: 'http_503_retry_after',
    });
  });
});

describe('parseRetryAfter: the edges', () => {
  test.each<[string, string | null, number | undefined]>([
    ['null (a header bag may hold it)', null, undefined],
    ['an explicit plus sign', '+5', 5000],
    ['a trailing dot', '5.', 5000],
    ['a negative fraction → 0', '-.5', 0],
    ['minus zero is zero, not -0', '-0', 0],
    ['digits too many for a number → garbage, not an infinite wait', '9'.repeat(400), undefined],
    ['a letter before the number', 'x5', undefined],
    ['one letter and a year (Date.parse would accept it)', 'x 2020', undefined],
    ['two dots', '1.2.3', undefined],
    ['a sign alone', '-', undefined],
    ['a dot alone', '.', undefined],
    ['a date one second ahead', 'Wed, 15 Jan 2025 12:00:01 GMT', 1000],
    ['a date without a weekday', '15 Jan 2025 12:00:05 GMT', 5000],
    ['a date with a numeric zone (ends in digits)', 'Wed, 15 Jan 2025 12:00:30 +0000', 30_000],
    ['hexadecimal is not delta-seconds', '0x10', undefined],
    ['exponent notation is not delta-seconds', '5e3', undefined],
    ['letters and a digit that are no date', 'abc1', undefined],
  ])('%s: %j', (_name, value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });
});

describe('parseRateLimitHeaders: the edges', () => {
  test.each<[string, Record<string, string | string[] | number | null | undefined>, object]>([
    ['numbers as numbers', { 'x-ratelimit-remaining': 3, 'x-ratelimit-limit': 60 }, { remaining: 3, limit: 60 }],
    ['a null value is absent', { 'ratelimit-remaining': null, 'x-ratelimit-remaining': '7' }, { remaining: 7 }],
    ['an undefined value is absent', { 'ratelimit-limit': undefined }, {}],
    ['leading spaces', { 'ratelimit-remaining': '  6' }, { remaining: 6 }],
    ['a fraction', { 'ratelimit-limit': '2.25' }, { limit: 2.25 }],
    ['digits too many: unreadable', { 'ratelimit-remaining': '9'.repeat(400) }, {}],
    ['a negative number is not read', { 'ratelimit-remaining': '-1' }, {}],
    ['mixed-case X- names', { 'X-RateLimit-Remaining': '4', 'X-RATELIMIT-RESET': '2' }, { remaining: 4, resetMs: 2000 }],
    // Priority: the separate IETF fields, then the combined field, then X-.
    [
      'separate IETF fields win over the combined field',
      { 'ratelimit-limit': '10', 'ratelimit-remaining': '1', 'ratelimit-reset': '1', ratelimit: 'limit=20, remaining=2, reset=2' },
      { limit: 10, remaining: 1, resetMs: 1000 },
    ],
    [
      'the combined field wins over X-',
      { ratelimit: 'limit=20, remaining=2, reset=2', 'x-ratelimit-limit': '30', 'x-ratelimit-remaining': '3', 'x-ratelimit-reset': '3' },
      { limit: 20, remaining: 2, resetMs: 2000 },
    ],
    ['X-RateLimit-Reset wins over X-RateLimit-Reset-After', { 'x-ratelimit-reset': '3', 'x-ratelimit-reset-after': '4' }, { resetMs: 3000 }],
    // The combined field, both draft spellings.
    ['combined, short keys l/r/t', { ratelimit: 'l=5;r=4;t=3' }, { limit: 5, remaining: 4, resetMs: 3000 }],
    ['combined, q is the limit', { ratelimit: '"burst";q=100;r=50;t=1' }, { limit: 100, remaining: 50, resetMs: 1000 }],
    ['combined, keys in any case, spaces around =', { ratelimit: 'Limit = 10, REMAINING=0,  Reset =5' }, { limit: 10, remaining: 0, resetMs: 5000 }],
    ['combined, quoted numbers', { ratelimit: 'r="3";t="7"' }, { remaining: 3, resetMs: 7000 }],
    ['combined, the first of a key wins', { ratelimit: 'remaining=1, remaining=2, r=3' }, { remaining: 1 }],
    ['combined, spaces after the number', { ratelimit: 'limit=10 , remaining=0  ' }, { limit: 10, remaining: 0 }],
    ['combined, a fractional reset', { ratelimit: 'reset=1.25' }, { resetMs: 1250 }],
    [
      'combined, unknown keys and junk ignored',
      { ratelimit: 'policy=x, w=60, x-limit=9, =5, remaining=two, bogus limit=9, remaining=3x, reset=1.5.2, limit=4' },
      { limit: 4 },
    ],
  ])('%s', (_name, headers, expected) => {
    // Strict: a field that is absent or unreadable is left out, not present as undefined.
    expect(parseRateLimitHeaders(headers, NOW)).toStrictEqual(expected);
  });

  test.each<[string, string, number]>([
    // design: a reset above 10^9 is an epoch in seconds, above 10^12 an epoch in milliseconds.
    ['exactly 10^9 is still delta seconds', '1000000000', 1e12],
    ['just over 10^9 is epoch seconds (in the past here → 0)', '1000000001', 0],
    ['exactly 10^12 is still epoch seconds (far ahead)', '1000000000000', 1e15 - NOW],
    ['epoch ms with a fraction rounds up', String(NOW + 1500.25), 1501],
    ['epoch seconds with a fraction rounds up', String(NOW / 1000 + 12.0005), 12_001],
    ['epoch ms in the past → 0', String(NOW - 5000), 0],
  ])('reset %s', (_name, value, resetMs) => {
    expect(parseRateLimitHeaders({ 'x-ratelimit-reset': value }, NOW)).toStrictEqual({ resetMs });
  });

  test('a Headers-like object: its get() is used, and an absent name is absent', () => {
    const h = new Headers({ 'X-RateLimit-Limit': '8', 'RateLimit-Reset': '3' });
    expect(parseRateLimitHeaders(h, NOW)).toStrictEqual({ limit: 8, resetMs: 3000 });
    expect(parseRateLimitHeaders({ get: () => null }, NOW)).toStrictEqual({});
  });
});
