/**
 * update() on undici's dispatch() with a plain handler (src/reimage/client.ts `post`): against a
 * real server on loopback, the same outcomes as the request() path it replaced — success, typed
 * HTTP errors with their pacing headers, network errors, timeouts, the caller's abort, the
 * onResponse report the rate controller reads on every reply — and no key in any error.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { inspect } from 'node:util';
import { ReimageClient } from '../src/reimage/client.js';
import type { ResponseInfo } from '../src/reimage/client.js';
import { HttpError, NetworkError, TimeoutError } from '../src/reimage/errors.js';
import { createRecordingServer, drop, hang, reply } from './helpers/recording-server.js';
import type { RecordingServer } from './helpers/recording-server.js';

const KEY = 'sk_live_DISPATCH0123456789abcdef';

let server: RecordingServer;
let seen: ResponseInfo[];
let clients: ReimageClient[];

const make = (options: { concurrency?: number; timeoutMs?: number } = {}) => {
  const c = new ReimageClient({
    baseUrl: server.url,
    apiKey: KEY,
    concurrency: options.concurrency ?? 2,
    timeoutMs: options.timeoutMs ?? 2000,
    onResponse: (info) => seen.push(info),
  });
  clients.push(c);
  return c;
};

beforeEach(async () => {
  server = await createRecordingServer();
  seen = [];
  clients = [];
});

afterEach(async () => {
  for (const c of clients) await c.destroy();
  await server.close();
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

function expectNoKey(err: unknown): void {
  const e = err as Error;
  for (const text of [e.message, String(e), JSON.stringify(e), inspect(e, { depth: 10, showHidden: true }), e.stack ?? '']) {
    expect(text).not.toContain(KEY);
  }
}

describe('update over dispatch', () => {
  test('2xx: resolves; onResponse gets only the pacing headers, whatever their case, repeated ones joined', async () => {
    const c = make();
    server.enqueue(
      (_req, res) => {
        // A flat name, value list: the names exactly as written, one repeated.
        res.writeHead(204, [
          'RateLimit-Remaining', '7',
          'X-RateLimit-Reset', '30',
          'x-ratelimit-reset', '31',
          'Retry-After', '0',
          'Set-Cookie', `k=${KEY}`,
          'Server', 'test',
          'X-Request-Id', 'abc',
        ]);
        res.end();
      },
      reply(200, 'ok, and a body nobody reads'),
    );
    await expect(c.update('a', ['x'])).resolves.toBeUndefined();
    await expect(c.update('b', [])).resolves.toBeUndefined();
    expect(seen).toEqual([
      { method: 'POST', path: '/update/a', status: 204, headers: { 'ratelimit-remaining': '7', 'x-ratelimit-reset': '30, 31', 'retry-after': '0' } },
      { method: 'POST', path: '/update/b', status: 200, headers: {} },
    ]);
    expect(server.requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/update/a', '{"tags":["x"]}'],
      ['POST', '/update/b', '{"tags":[]}'],
    ]);
  });

  test('onWrite is told once per update, as its request goes to the socket, before any answer', async () => {
    const order: string[] = [];
    const c = new ReimageClient({
      baseUrl: server.url,
      apiKey: KEY,
      concurrency: 1,
      timeoutMs: 2000,
      onWrite: () => order.push(`write ${server.requests.length}`),
      onResponse: (info) => order.push(`answer ${info.path}`),
    });
    clients.push(c);
    server.enqueue(reply(200), reply(404, { error: 'nope' }));
    // One connection: the second request waits for it, and is told when it is written, not when queued.
    const both = Promise.allSettled([c.update('a', ['x']), c.update('b', ['y'])]);
    await both;
    expect(order).toEqual(['write 0', 'answer /update/a', 'write 1', 'answer /update/b']);
  });

  test("the function onWrite returns is called once, when that request's answer arrives (any status)", async () => {
    const order: string[] = [];
    let n = 0;
    const c = new ReimageClient({
      baseUrl: server.url,
      apiKey: KEY,
      concurrency: 1,
      timeoutMs: 2000,
      onWrite: () => {
        const k = n++;
        order.push(`write ${k}`);
        return () => order.push(`answered ${k}`);
      },
      onResponse: (info) => order.push(`answer ${info.path}`),
    });
    clients.push(c);
    server.enqueue(reply(200), reply(429, { error: 'slow down' }, { 'retry-after': '1' }));
    await Promise.allSettled([c.update('a', ['x']).then(() => order.push('resolved a')), c.update('b', ['y'])]);
    expect(order).toEqual(['write 0', 'answered 0', 'answer /update/a', 'resolved a', 'write 1', 'answered 1', 'answer /update/b']);
  });

  test('a 2xx body over 128 KiB still means the write succeeded (drained like body.dump())', async () => {
    const c = make({ concurrency: 1 });
    server.enqueue(reply(200, 'x'.repeat(600 * 1024)), reply(200));
    await expect(c.update('big', ['t'])).resolves.toBeUndefined();
    await expect(c.update('next', ['t'])).resolves.toBeUndefined();
    expect(server.requests).toHaveLength(2);
  });

  test('404: an HttpError with the status and the JSON error of its body (a BOM before it skipped)', async () => {
    const c = make();
    server.enqueue(reply(404, Buffer.from(`\ufeff{"error":"no image abc"}`), { 'content-type': 'text/plain' }));
    const e = (await rejection(c.update('abc', ['t']))) as HttpError;
    expect(e).toBeInstanceOf(HttpError);
    expect(e.status).toBe(404);
    expect(e.method).toBe('POST');
    expect(e.path).toBe('/update/abc');
    expect(e.bodyExcerpt).toBe('no image abc');
    expect(e.message).toBe('HTTP 404 Not Found on POST /update/abc: no image abc');
    expect(seen).toEqual([{ method: 'POST', path: '/update/abc', status: 404, headers: {} }]);
    expectNoKey(e);
  });

  test('429 with Retry-After: the error and the report both carry it; the key a server echoes is redacted', async () => {
    const c = make();
    server.enqueue(reply(429, { error: `slow down ${KEY}` }, { 'Retry-After': '3', 'RateLimit-Limit': '10', Server: 'nginx' }));
    const e = (await rejection(c.update('abc', ['t']))) as HttpError;
    expect(e).toBeInstanceOf(HttpError);
    expect(e.status).toBe(429);
    expect(e.headers).toEqual({ 'retry-after': '3', 'ratelimit-limit': '10' });
    expect(seen).toEqual([{ method: 'POST', path: '/update/abc', status: 429, headers: { 'retry-after': '3', 'ratelimit-limit': '10' } }]);
    expectNoKey(e);
  });

  test('a reset connection → NetworkError, no key in it; the next update gets a fresh connection', async () => {
    const c = make({ concurrency: 1 });
    server.enqueue(drop(), reply(200));
    const e = (await rejection(c.update('abc', ['t']))) as NetworkError;
    expect(e).toBeInstanceOf(NetworkError);
    expect(e.code).toMatch(/^(UND_ERR_SOCKET|ECONNRESET)$/);
    expect(e.path).toBe('/update/abc');
    expectNoKey(e);
    await expect(c.update('abc', ['t'])).resolves.toBeUndefined();
  });

  test('no reply within the timeout → TimeoutError (headers)', async () => {
    const c = make({ concurrency: 1, timeoutMs: 150 });
    server.enqueue(hang());
    const e = (await rejection(c.update('abc', []))) as TimeoutError;
    expect(e).toBeInstanceOf(TimeoutError);
    expect(e.phase).toBe('headers');
    expect(e.timeoutMs).toBe(150);
    expectNoKey(e);
  });

  test('an error body that stalls → TimeoutError (body)', async () => {
    const c = make({ concurrency: 1, timeoutMs: 150 });
    server.enqueue((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('half');
      return new Promise<void>(() => undefined);
    });
    const e = (await rejection(c.update('abc', []))) as TimeoutError;
    expect(e).toBeInstanceOf(TimeoutError);
    expect(e.phase).toBe('body');
  });

  test("the caller's abort, in flight or while queued behind a busy connection, is its own reason", async () => {
    const c = make({ concurrency: 1 });
    server.enqueue(hang(), reply(200));
    const first = new AbortController();
    const second = new AbortController();
    const p1 = rejection(c.update('one', [], first.signal));
    await server.waitForRequests(1);
    const p2 = rejection(c.update('two', [], second.signal)); // queued: the only connection is busy
    const queuedReason = new Error('stop the queued one');
    second.abort(queuedReason);
    const reason = new Error('stop the sent one');
    first.abort(reason);
    expect(await p1).toBe(reason);
    expect(await p2).toBe(queuedReason);
    expect(server.requests.map((r) => r.url)).toEqual(['/update/one']);
    const already = new AbortController();
    already.abort(new Error('before'));
    expect(((await rejection(c.update('three', [], already.signal))) as Error).message).toBe('before');
  });
});
