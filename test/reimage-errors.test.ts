import { describe, expect, test } from '@jest/globals';
import { inspect } from 'node:util';
import {
  HttpError,
  ListShapeError,
  NetworkError,
  ReimageError,
  RequestError,
  TimeoutError,
  describeErrorBody,
  pickRateLimitHeaders,
} from '../src/reimage/errors.js';

describe('hierarchy', () => {
  test('every error is a ReimageError and an Error, with its own name', () => {
    const errors = [
      new HttpError({ method: 'GET', path: '/user/', status: 500 }),
      new NetworkError({ method: 'GET', path: '/user/', code: 'ECONNRESET' }),
      new TimeoutError({ method: 'GET', path: '/user/', timeoutMs: 100 }),
      new ListShapeError('bad', []),
    ];
    for (const e of errors) {
      expect(e).toBeInstanceOf(ReimageError);
      expect(e).toBeInstanceOf(Error);
      expect(String(e)).toMatch(new RegExp(`^${e.constructor.name}: `));
      expect(e.name).toBe(e.constructor.name);
    }
    expect(errors[0]).toBeInstanceOf(RequestError);
    expect(errors[3]).not.toBeInstanceOf(RequestError);
  });

  test('the original error is a non-enumerable cause', () => {
    const original = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', socket: { huge: 'x'.repeat(100) } });
    const e = new NetworkError({ method: 'POST', path: '/update/a', code: 'ECONNRESET', detail: original.message, cause: original });
    expect(e.cause).toBe(original);
    expect(Object.keys(e)).not.toContain('cause');
    expect(JSON.stringify(e)).not.toContain('huge');
    expect(e.message).toBe('network error ECONNRESET on POST /update/a (read ECONNRESET)');
  });

  test('a ListShapeError excerpt stays out of JSON', () => {
    const e = new ListShapeError('bad', { big: 'y'.repeat(3000) });
    expect(e.excerpt.length).toBe(2048);
    expect(JSON.stringify(e)).not.toContain('yyyy');
    expect(inspect(e)).toContain('unrecognised /get/ response: bad');
  });

  test('an HttpError serialises to a compact, useful record', () => {
    const e = new HttpError({
      method: 'POST',
      path: '/update/a',
      status: 429,
      body: '{"error":"Too many"}',
      headers: { 'Retry-After': '3', Server: 'x' },
      attempt: 2,
    });
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      name: 'HttpError',
      method: 'POST',
      path: '/update/a',
      attempt: 2,
      status: 429,
      statusText: 'Too Many Requests',
      bodyExcerpt: 'Too many',
      headers: { 'retry-after': '3' },
    });
    expect(e.message).toBe('HTTP 429 Too Many Requests on POST /update/a: Too many');
  });

  test('an unknown status still has a text', () => {
    expect(new HttpError({ method: 'GET', path: '/x', status: 599 }).statusText).toBe('Unknown Status');
  });
});

describe('describeErrorBody', () => {
  test.each<[string, string, string | undefined, { excerpt: string; detail: string }]>([
    ['empty', '', undefined, { excerpt: '', detail: '' }],
    ['JSON error', '{"error":"Image not found"}', 'application/json', { excerpt: 'Image not found', detail: 'Image not found' }],
    ['JSON nested error.message', '{"error":{"message":"nope"}}', undefined, { excerpt: 'nope', detail: 'nope' }],
    ['JSON message', '{"message":"bad tags"}', undefined, { excerpt: 'bad tags', detail: 'bad tags' }],
    ['JSON without text', '{"code":7}', undefined, { excerpt: '{"code":7}', detail: '' }],
    ['JSON content-type but broken JSON', '{oops', 'application/json', { excerpt: '{oops', detail: '{oops' }],
    ['HTML', '<html>\n  <b>Bad</b>\n</html>', 'text/html', { excerpt: '<html> <b>Bad</b> </html>', detail: '' }],
    ['HTML by content-type only', 'Bad gateway page', 'text/html; charset=utf-8', { excerpt: 'Bad gateway page', detail: '' }],
    ['plain text', 'upstream died', 'text/plain', { excerpt: 'upstream died', detail: 'upstream died' }],
  ])('%s', (_name, body, contentType, expected) => {
    expect(describeErrorBody(body, contentType)).toEqual(expected);
  });

  test('cuts to 200 characters with an ellipsis', () => {
    const { excerpt } = describeErrorBody('z'.repeat(1000));
    expect(excerpt.length).toBe(200);
    expect(excerpt.endsWith('…')).toBe(true);
  });
});

describe('pickRateLimitHeaders', () => {
  test('keeps only pacing headers, lower-cased; arrays joined', () => {
    expect(
      pickRateLimitHeaders({
        'Retry-After': '5',
        RateLimit: 'limit=1',
        'RateLimit-Policy': '10;w=1',
        'X-RateLimit-Remaining': ['1', '2'],
        'Set-Cookie': 'a=b',
        Authorization: 'Bearer x',
        skipped: undefined,
      }),
    ).toEqual({
      'retry-after': '5',
      ratelimit: 'limit=1',
      'ratelimit-policy': '10;w=1',
      'x-ratelimit-remaining': '1, 2',
    });
  });
});
