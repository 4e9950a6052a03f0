import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { UsageError } from '../src/errors.js';
import { ReimageClient, assertSafeBaseUrl, encodeId } from '../src/reimage/client.js';
import type { ResponseInfo } from '../src/reimage/client.js';
import { HttpError, ListShapeError, NetworkError, ReimageError, TimeoutError } from '../src/reimage/errors.js';
import { createRecordingServer, delayed, drop, hang, reply } from './helpers/recording-server.js';
import type { RecordingServer } from './helpers/recording-server.js';

const KEY = 'sk_live_SECRET0123456789abcdef';

let server: RecordingServer;
let client: ReimageClient;

beforeEach(async () => {
  server = await createRecordingServer();
  client = new ReimageClient({ baseUrl: server.url, apiKey: KEY, concurrency: 4, timeoutMs: 2000 });
});

afterEach(async () => {
  await client.destroy();
  await server.close();
});

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

function expectNoKey(err: unknown): void {
  const e = err as Error;
  for (const text of [e.message, String(e), JSON.stringify(e), inspect(e, { depth: 10, showHidden: true }), e.stack ?? '']) {
    expect(text).not.toContain(KEY);
  }
}

describe('update', () => {
  test.each([
    ['plain hex', 'abc123', '/update/abc123'],
    ['space', 'a b', '/update/a%20b'],
    ['plus', 'a+b', '/update/a%2Bb'],
    ['unicode', 'café-☕', '/update/caf%C3%A9-%E2%98%95'],
    ['ampersand and equals', 'x&y=z', '/update/x%26y%3Dz'],
    ['dot-dot stays an id', '..', '/update/%2E%2E'],
  ])('sends exactly the path, header and body (%s)', async (_name, id, path) => {
    server.enqueue(reply(200));
    await expect(client.update(id, ['hero', 'sale, 50%'])).resolves.toBeUndefined();
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe(path);
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toBe('{"tags":["hero","sale, 50%"]}');
    expect(req.json).toEqual({ tags: ['hero', 'sale, 50%'] });
  });

  test('an empty tag list is sent as []', async () => {
    server.enqueue(reply(200));
    await client.update('x', []);
    expect(server.requests[0]!.body).toBe('{"tags":[]}');
  });

  test('an empty 200 body is success; a non-empty one is drained, not parsed', async () => {
    server.enqueue(reply(200), reply(200, 'not json at all'), reply(204));
    await client.update('a', ['t']);
    await client.update('b', ['t']);
    await client.update('c', ['t']);
    expect(server.requests.map((r) => r.url)).toEqual(['/update/a', '/update/b', '/update/c']);
  });

  test('connections are kept alive and reused', async () => {
    const c1 = new ReimageClient({ baseUrl: server.url, apiKey: KEY, concurrency: 1, timeoutMs: 2000 });
    server.handle(reply(200));
    const ports = new Set<number>();
    server.server.on('connection', (s) => ports.add(s.remotePort ?? 0));
    for (let i = 0; i < 5; i++) await c1.update(`id${i}`, ['t']);
    await c1.close();
    expect(ports.size).toBe(1);
  });

  test('at most `concurrency` connections', async () => {
    const c2 = new ReimageClient({ baseUrl: server.url, apiKey: KEY, concurrency: 2, timeoutMs: 2000 });
    server.handle(delayed(30, { status: 200 }));
    let sockets = 0;
    server.server.on('connection', () => sockets++);
    await Promise.all(Array.from({ length: 10 }, (_, i) => c2.update(`id${i}`, ['t'])));
    await c2.close();
    expect(sockets).toBeLessThanOrEqual(2);
  });

  test('an empty id is refused before any request', async () => {
    await expect(client.update('', ['t'])).rejects.toThrow(RangeError);
    expect(server.requests).toHaveLength(0);
  });

  test('a base URL path prefix is kept', async () => {
    const c3 = new ReimageClient({ baseUrl: `${server.url}/v1/`, apiKey: KEY, concurrency: 1, timeoutMs: 2000 });
    server.enqueue(reply(200));
    await c3.update('a', []);
    await c3.close();
    expect(server.requests[0]!.url).toBe('/v1/update/a');
  });
});

describe('HTTP errors', () => {
  test.each<[number, unknown, string, RegExp]>([
    [404, { error: 'Image not found' }, 'Image not found', /^HTTP 404 Not Found on POST \/update\/abc: Image not found$/],
    [403, { error: 'Forbidden for this key' }, 'Forbidden for this key', /HTTP 403 Forbidden on POST \/update\/abc: Forbidden for this key/],
    [401, { error: 'Unauthorized' }, 'Unauthorized', /HTTP 401 Unauthorized on POST \/update\/abc$/],
    [500, { error: 'Internal server error' }, 'Internal server error', /HTTP 500 Internal Server Error on POST \/update\/abc: Internal server error/],
    [400, { message: 'tags must be an array' }, 'tags must be an array', /HTTP 400 Bad Request .*: tags must be an array/],
    [422, { errors: ['x'] }, '{"errors":["x"]}', /^HTTP 422 Unprocessable Entity on POST \/update\/abc$/],
  ])('%i maps to HttpError with status and excerpt', async (status, body, excerpt, message) => {
    server.enqueue(reply(status, body));
    const err = await caught(client.update('abc', ['t']));
    expect(err).toBeInstanceOf(HttpError);
    const e = err as HttpError;
    expect(e.status).toBe(status);
    expect(e.method).toBe('POST');
    expect(e.path).toBe('/update/abc');
    expect(e.bodyExcerpt).toBe(excerpt);
    expect(e.message).toMatch(message);
    expect(e.attempt).toBe(1);
    e.attempt = 3;
    expect(e.attempt).toBe(3);
  });

  test('429 carries Retry-After and rate-limit headers', async () => {
    server.enqueue(
      reply(429, { error: 'Too many requests' }, {
        'Retry-After': '2',
        'RateLimit-Limit': '10',
        'RateLimit-Remaining': '0',
        'X-RateLimit-Reset': '1700000000',
        'Set-Cookie': 'session=abc',
        Server: 'nginx',
      }),
    );
    const e = (await caught(client.update('abc', ['t']))) as HttpError;
    expect(e).toBeInstanceOf(HttpError);
    expect(e.status).toBe(429);
    expect(e.headers).toEqual({
      'retry-after': '2',
      'ratelimit-limit': '10',
      'ratelimit-remaining': '0',
      'x-ratelimit-reset': '1700000000',
    });
  });

  test('an HTML error page falls back to the status text', async () => {
    const html = '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>';
    server.enqueue(reply(502, html, { 'content-type': 'text/html' }));
    const e = (await caught(client.update('abc', ['t']))) as HttpError;
    expect(e.status).toBe(502);
    expect(e.message).toBe('HTTP 502 Bad Gateway on POST /update/abc');
    expect(e.statusText).toBe('Bad Gateway');
    expect(e.bodyExcerpt.length).toBeLessThanOrEqual(200);
    expect(e.bodyExcerpt.startsWith('<html>')).toBe(true);
  });

  test('an empty error body falls back to the status text', async () => {
    server.enqueue(reply(503));
    const e = (await caught(client.update('abc', ['t']))) as HttpError;
    expect(e.message).toBe('HTTP 503 Service Unavailable on POST /update/abc');
    expect(e.bodyExcerpt).toBe('');
  });

  test('a short plain-text body is the detail', async () => {
    server.enqueue(reply(500, 'upstream exploded', { 'content-type': 'text/plain' }));
    const e = (await caught(client.update('abc', ['t']))) as HttpError;
    expect(e.message).toBe('HTTP 500 Internal Server Error on POST /update/abc: upstream exploded');
  });

  test('a long body is cut to 200 characters', async () => {
    server.enqueue(reply(500, { error: 'e'.repeat(5000) }));
    const e = (await caught(client.update('abc', ['t']))) as HttpError;
    expect(e.bodyExcerpt.length).toBe(200);
    expect(e.message.length).toBeLessThan(300);
  });

  test('the connection survives an error reply (body drained)', async () => {
    const c1 = new ReimageClient({ baseUrl: server.url, apiKey: KEY, concurrency: 1, timeoutMs: 2000 });
    let sockets = 0;
    server.server.on('connection', () => sockets++);
    server.enqueue(reply(500, { error: 'x' }), reply(404, 'nope'), reply(200));
    await caught(c1.update('a', []));
    await caught(c1.update('a', []));
    await c1.update('a', []);
    await c1.close();
    expect(sockets).toBe(1);
  });
});

describe('network failures and timeouts', () => {
  test('a dropped connection → NetworkError', async () => {
    server.enqueue(drop());
    const e = (await caught(client.update('abc', ['t']))) as NetworkError;
    expect(e).toBeInstanceOf(NetworkError);
    expect(e.code).toMatch(/^(UND_ERR_SOCKET|ECONNRESET)$/);
    expect(e.method).toBe('POST');
    expect(e.path).toBe('/update/abc');
    expect(e.message).toContain('network error');
    expect(Object.keys(e)).not.toContain('cause');
    expect((e as { cause?: unknown }).cause).toBeDefined();
    expectNoKey(e);
  });

  test('a refused connection → NetworkError ECONNREFUSED', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const c = new ReimageClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEY, concurrency: 1, timeoutMs: 2000 });
    const e = (await caught(c.update('abc', []))) as NetworkError;
    await c.destroy();
    expect(e).toBeInstanceOf(NetworkError);
    expect(e.code).toBe('ECONNREFUSED');
    expectNoKey(e);
  });

  test('a slow server → TimeoutError', async () => {
    const c = new ReimageClient({ baseUrl: server.url, apiKey: KEY, concurrency: 1, timeoutMs: 200 });
    server.enqueue(hang());
    const started = Date.now();
    const e = (await caught(c.update('abc', []))) as TimeoutError;
    await c.destroy();
    expect(e).toBeInstanceOf(TimeoutError);
    expect(e.timeoutMs).toBe(200);
    expect(e.phase).toBe('headers');
    expect(Date.now() - started).toBeLessThan(1500);
    expectNoKey(e);
  });

  test('a body that stalls → TimeoutError', async () => {
    const c = new ReimageClient({ baseUrl: server.url, apiKey: KEY, concurrency: 1, timeoutMs: 200 });
    server.enqueue((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"data": [');
      return new Promise<void>(() => undefined);
    });
    const e = await caught(c.listPage(1, 10));
    await c.destroy();
    expect(e).toBeInstanceOf(TimeoutError);
    expect((e as TimeoutError).phase).toBe('body');
  });

  test("the caller's abort is passed through, not wrapped", async () => {
    server.enqueue(hang());
    const ac = new AbortController();
    const p = caught(client.update('abc', [], ac.signal));
    await server.waitForRequests(1);
    const reason = new Error('stop now');
    ac.abort(reason);
    expect(await p).toBe(reason);
  });

  test('a closed client says so', async () => {
    await client.close();
    const e = await caught(client.update('abc', []));
    expect(e).toBeInstanceOf(ReimageError);
    expect((e as Error).message).toMatch(/closed/);
    expect(e).not.toBeInstanceOf(NetworkError);
  });
});

describe('the API key never leaks', () => {
  test.each<[string, () => void]>([
    ['server echoes the key in JSON', () => server.enqueue(reply(401, { error: `Invalid key ${KEY}` }))],
    ['server echoes the key in text', () => server.enqueue(reply(500, `bad bearer ${KEY}`))],
    ['server echoes the key in HTML', () => server.enqueue(reply(502, `<p>${KEY}</p>`))],
    ['server echoes the key in a header', () => server.enqueue(reply(429, '', { 'retry-after': '1', 'x-ratelimit-limit': KEY }))],
    ['dropped connection', () => server.enqueue(drop())],
  ])('%s', async (_name, script) => {
    script();
    const e = await caught(client.update('abc', ['t']));
    expect(e).toBeInstanceOf(ReimageError);
    expectNoKey(e);
  });

  test('a list shape error built from a body holding the key', async () => {
    server.enqueue(reply(200, { weird: KEY }));
    const e = (await caught(client.listPage(1, 10))) as ListShapeError;
    expect(e).toBeInstanceOf(ListShapeError);
    expectNoKey(e);
    expect(e.excerpt).not.toContain(KEY);
    expect(e.excerpt).toContain('[REDACTED]');
  });

  test('the HttpError of a 401 redacts what the server echoed', async () => {
    server.enqueue(reply(401, { error: `Invalid key ${KEY}` }));
    const e = (await caught(client.user())) as HttpError;
    expect(e.bodyExcerpt).toBe('Invalid key [REDACTED]');
  });
});

describe('listPage', () => {
  test('sends GET /get/?page=N&page_size=P with the key and parses', async () => {
    server.enqueue(reply(200, { data: [{ object_id: 'a', tags: 'x,y' }, { id: 'b', tags: [] }], total: 45 }));
    const page = await client.listPage(3, 50);
    const req = server.requests[0]!;
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/get/?page=3&page_size=50');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req.body).toBe('');
    expect(page).toEqual({
      records: [
        { id: 'a', tags: ['x', 'y'], tagsFromString: true },
        { id: 'b', tags: [] },
      ],
      meta: { total: 45 },
      status: 200,
      page: 3,
      pageSize: 50,
    });
  });

  test('a non-JSON 200 → ListShapeError with the excerpt', async () => {
    server.enqueue(reply(200, '<html>login</html>', { 'content-type': 'text/html' }));
    const e = (await caught(client.listPage(1, 10))) as ListShapeError;
    expect(e).toBeInstanceOf(ListShapeError);
    expect(e.message).toMatch(/not JSON/);
    expect(e.excerpt).toBe('<html>login</html>');
  });

  test('an empty 200 → ListShapeError', async () => {
    server.enqueue(reply(200));
    await expect(client.listPage(1, 10)).rejects.toThrow(/body is empty/);
  });

  test('an unknown shape → ListShapeError', async () => {
    server.enqueue(reply(200, { status: 'ok' }));
    await expect(client.listPage(1, 10)).rejects.toBeInstanceOf(ListShapeError);
  });

  test('a 429 on a read is an HttpError too', async () => {
    server.enqueue(reply(429, { error: 'slow' }, { 'retry-after': '1' }));
    const e = (await caught(client.listPage(1, 10))) as HttpError;
    expect(e.status).toBe(429);
    expect(e.method).toBe('GET');
    expect(e.path).toBe('/get/?page=1&page_size=10');
    expect(e.headers['retry-after']).toBe('1');
  });

  test('bad arguments are refused before any request', async () => {
    await expect(client.listPage(1.5, 10)).rejects.toThrow(RangeError);
    await expect(client.listPage(1, 0)).rejects.toThrow(RangeError);
    expect(server.requests).toHaveLength(0);
  });
});

describe('user and getRaw', () => {
  test('user() GETs /user/', async () => {
    server.enqueue(reply(200, { name: 'Ada', bucket_id: 'b1', image_count: 12 }));
    await expect(client.user()).resolves.toEqual({ name: 'Ada', bucket_id: 'b1', image_count: 12 });
    expect(server.requests[0]!.url).toBe('/user/');
    expect(server.requests[0]!.method).toBe('GET');
  });

  test('user() refuses a non-object', async () => {
    server.enqueue(reply(200, [1, 2]));
    await expect(client.user()).rejects.toThrow(/unexpected \/user\/ response/);
  });

  test('getRaw returns JSON, or the text when it is not JSON', async () => {
    server.enqueue(reply(200, { a: 1 }), reply(200, 'plain'));
    await expect(client.getRaw('/get/?page=1&page_size=2')).resolves.toEqual({ a: 1 });
    await expect(client.getRaw('/get/tags?avatar')).resolves.toBe('plain');
    expect(server.requests.map((r) => r.url)).toEqual(['/get/?page=1&page_size=2', '/get/tags?avatar']);
  });

  test('getRaw refuses paths that are not absolute', async () => {
    await expect(client.getRaw('user/')).rejects.toThrow(RangeError);
    await expect(client.getRaw('//evil.example/x')).rejects.toThrow(RangeError);
  });

  test('secret-looking query values are blanked in error paths', async () => {
    server.enqueue(reply(500));
    const e = (await caught(client.getRaw('/get/?page=1&token=abc&api_key=def'))) as HttpError;
    expect(e.path).toBe('/get/?page=1&token=[REDACTED]&api_key=[REDACTED]');
  });
});

describe('onResponse', () => {
  test('reports each response with its pacing headers', async () => {
    const seen: ResponseInfo[] = [];
    const c = new ReimageClient({
      baseUrl: server.url,
      apiKey: KEY,
      concurrency: 1,
      timeoutMs: 2000,
      onResponse: (info) => {
        seen.push(info);
        throw new Error('observer bug must not fail the request');
      },
    });
    server.enqueue(reply(200, '', { 'ratelimit-remaining': '3' }), reply(429, '', { 'retry-after': '1' }));
    await c.update('a', []);
    await caught(c.update('b', []));
    await c.close();
    expect(seen).toEqual([
      { method: 'POST', path: '/update/a', status: 200, headers: { 'ratelimit-remaining': '3' } },
      { method: 'POST', path: '/update/b', status: 429, headers: { 'retry-after': '1' } },
    ]);
  });
});

describe('constructor checks', () => {
  test.each<[string, Partial<ConstructorParameters<typeof ReimageClient>[0]>, RegExp]>([
    ['plain http to a remote host', { baseUrl: 'http://api.reimage.dev' }, /clear text/],
    ['concurrency 0', { concurrency: 0 }, /concurrency/],
    ['timeout 0', { timeoutMs: 0 }, /timeout/],
    ['a key with a newline', { apiKey: 'abc\ndef' }, /whitespace or control/],
    ['an empty key', { apiKey: '' }, /empty/],
  ])('%s → UsageError', (_name, override, message) => {
    const make = () =>
      new ReimageClient({ baseUrl: 'https://api.reimage.dev', apiKey: KEY, concurrency: 1, timeoutMs: 1000, ...override });
    expect(make).toThrow(UsageError);
    expect(make).toThrow(message);
  });

  test('a key with a newline is refused and not echoed', () => {
    const make = () => new ReimageClient({ baseUrl: 'https://api.reimage.dev', apiKey: `${KEY}\n`, concurrency: 1, timeoutMs: 1000 });
    // Outside any try: if the constructor accepted the key, this is what fails the test.
    expect(make).toThrow(UsageError);
    let err: unknown;
    try {
      make();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/whitespace or control/);
    expectNoKey(err);
  });
});

describe('assertSafeBaseUrl', () => {
  test.each([
    'https://api.reimage.dev',
    'https://api.reimage.dev/',
    'https://example.com:8443/prefix',
    'http://127.0.0.1:8080',
    'http://127.1.2.3',
    'http://localhost:3000',
    'http://LOCALHOST',
    'http://[::1]:9000',
  ])('accepts %s', (url) => {
    expect(assertSafeBaseUrl(url)).toBeInstanceOf(URL);
  });

  test.each<[string, RegExp]>([
    ['http://api.reimage.dev', /clear text/],
    ['http://10.0.0.5:8080', /clear text/],
    ['http://128.0.0.1', /clear text/],
    ['http://localhost.evil.com', /clear text/],
    ['http://[::2]', /clear text/],
    ['ftp://api.reimage.dev', /only https/],
    ['file:///etc/passwd', /only https/],
    ['not a url', /not a valid URL/],
    ['', /not a valid URL/],
    ['https://user:pw@api.reimage.dev', /user name or password/],
    ['https://api.reimage.dev/?key=1', /query or fragment/],
  ])('refuses %s', (url, message) => {
    expect(() => assertSafeBaseUrl(url)).toThrow(UsageError);
    expect(() => assertSafeBaseUrl(url)).toThrow(message);
  });
});

describe('encodeId', () => {
  test.each([
    ['abc', 'abc'],
    ['.', '%2E'],
    ['..', '%2E%2E'],
    ['a.b', 'a.b'],
    ['a/b', 'a%2Fb'],
    ['50%', '50%25'],
  ])('%s → %s', (id, enc) => {
    expect(encodeId(id)).toBe(enc);
  });
});

describe('recording server', () => {
  let s: RecordingServer;
  beforeAll(async () => {
    s = await createRecordingServer();
  });
  afterAll(async () => {
    await s.close();
  });

  test('answers 599 when nothing is scripted, and handlers see the request', async () => {
    const c = new ReimageClient({ baseUrl: s.url, apiKey: KEY, concurrency: 1, timeoutMs: 2000 });
    const e = (await caught(c.update('a', []))) as HttpError;
    expect(e.status).toBe(599);
    s.handle((req) => reply(200, { data: [{ id: req.query.page ?? '?', tags: [] }] }));
    const p = await c.listPage(7, 1);
    expect(p.records[0]!.id).toBe('7');
    await c.close();
    expect(s.requests.map((r) => r.path)).toEqual(['/update/a', '/get/']);
    expect(s.requests[1]!.query).toEqual({ page: '7', page_size: '1' });
  });

  test('close() ends hanging connections', async () => {
    const s2 = await createRecordingServer({ fallback: hang() });
    const c = new ReimageClient({ baseUrl: s2.url, apiKey: KEY, concurrency: 1, timeoutMs: 10_000 });
    const p = caught(c.update('a', []));
    await s2.waitForRequests(1);
    await s2.close();
    expect(await p).toBeInstanceOf(NetworkError);
    await c.destroy();
  });
});

describe('loopback check (one for the client and the simulator)', () => {
  test.each([
    ['http://127.0.0.1:8787', true],
    ['http://127.9.9.9', true],
    ['http://localhost:1', true],
    ['http://[::1]:8787', true],
    ['http://[::ffff:127.0.0.1]:8787', true], // URL writes it ::ffff:7f00:1
    ['http://[::ffff:10.0.0.1]:8787', false],
    ['http://128.0.0.1', false],
    ['http://example.com', false],
  ])('%s → loopback %s (plain http allowed only on loopback)', (url, loopback) => {
    if (loopback) expect(assertSafeBaseUrl(url).protocol).toBe('http:');
    else expect(() => assertSafeBaseUrl(url)).toThrow(/refusing plain http/);
  });
});
