import { describe, expect, test } from '@jest/globals';
import { parseRateLimitHeaders, parseRetryAfter } from '../src/runner/retry-after.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0); // Wed, 15 Jan 2025 12:00:00 GMT

describe('parseRetryAfter', () => {
  test.each<[string, string | undefined, number | undefined]>([
    ['absent', undefined, undefined],
    ['empty', '', undefined],
    ['blank', '   ', undefined],
    ['integer seconds', '3', 3000],
    ['zero', '0', 0],
    ['padded', ' 7 ', 7000],
    ['fractional seconds', '1.5', 1500],
    ['fraction rounds up to a whole ms', '0.0001', 1],
    ['leading-dot fraction', '.25', 250],
    ['negative → 0', '-5', 0],
    ['large', '86400', 86_400_000],
    ['HTTP-date in the future (IMF-fixdate)', 'Wed, 15 Jan 2025 12:00:30 GMT', 30_000],
    ['HTTP-date in the past → 0', 'Wed, 15 Jan 2025 11:59:00 GMT', 0],
    ['RFC 850 date', 'Wednesday, 15-Jan-25 12:01:00 GMT', 60_000],
    ['garbage', 'soon', undefined],
    ['number with unit', '5s', undefined],
    ['bare year (Date.parse would accept it)', '2030', 2030_000],
    ['date-ish garbage', '2025-13-45', undefined],
    ['two numbers', '1, 2', undefined],
  ])('%s: %j', (_name, value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });
});

describe('parseRateLimitHeaders', () => {
  test.each<[string, Record<string, string | string[] | undefined>, object]>([
    ['none', {}, {}],
    [
      'IETF separate fields',
      { 'ratelimit-limit': '10', 'ratelimit-remaining': '0', 'ratelimit-reset': '5' },
      { limit: 10, remaining: 0, resetMs: 5000 },
    ],
    ['IETF names are case-insensitive', { 'RateLimit-Limit': '10', 'RateLimit-Reset': '2' }, { limit: 10, resetMs: 2000 }],
    ['limit with a policy suffix', { 'ratelimit-limit': '100, 100;w=60' }, { limit: 100 }],
    ['combined field', { ratelimit: 'limit=10, remaining=0, reset=5' }, { limit: 10, remaining: 0, resetMs: 5000 }],
    ['combined field, draft-08 structured form', { ratelimit: '"default";r=3;t=7' }, { remaining: 3, resetMs: 7000 }],
    [
      'X-RateLimit with delta reset',
      { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '59', 'x-ratelimit-reset': '30' },
      { limit: 60, remaining: 59, resetMs: 30_000 },
    ],
    ['X-RateLimit-Reset as epoch seconds', { 'x-ratelimit-reset': String(NOW / 1000 + 12) }, { resetMs: 12_000 }],
    ['X-RateLimit-Reset as epoch ms', { 'x-ratelimit-reset': String(NOW + 1500) }, { resetMs: 1500 }],
    ['epoch in the past → 0', { 'x-ratelimit-reset': String(NOW / 1000 - 100) }, { resetMs: 0 }],
    ['X-RateLimit-Reset-After', { 'x-ratelimit-reset-after': '1.5' }, { resetMs: 1500 }],
    [
      'IETF wins over X-',
      { 'ratelimit-remaining': '1', 'x-ratelimit-remaining': '9', 'ratelimit-reset': '1', 'x-ratelimit-reset': '9' },
      { remaining: 1, resetMs: 1000 },
    ],
    ['garbage ignored', { 'ratelimit-limit': 'lots', 'ratelimit-reset': 'later' }, {}],
    ['array values: the first counts', { 'ratelimit-remaining': ['4', '5'] }, { remaining: 4 }],
  ])('%s', (_name, headers, expected) => {
    expect(parseRateLimitHeaders(headers, NOW)).toEqual(expected);
  });

  test('accepts a Headers-like object', () => {
    const h = new Headers({ 'RateLimit-Remaining': '2', 'Retry-After': '1' });
    expect(parseRateLimitHeaders(h, NOW)).toEqual({ remaining: 2 });
  });
});
