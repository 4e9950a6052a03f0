/** Pure parts of the simulator: token bucket, PRNG, options, seed parsing, list shapes. */
import { describe, expect, test } from '@jest/globals';
import { TokenBucket } from '../src/sim/token-bucket.js';
import { createRandom } from '../src/sim/prng.js';
import { isLoopbackHost, resolveSimOptions } from '../src/sim/options.js';
import { buildLibrary, parseNdjsonSeed, parseSeed, SeedError } from '../src/sim/seed.js';
import { renderPage } from '../src/sim/list-shapes.js';
import { UsageError } from '../src/errors.js';

describe('TokenBucket', () => {
  test.each([
    // rate, burst, request times (ms), expected ok flags
    [2, 2, [0, 0, 0], [true, true, false]],
    [2, 2, [0, 0, 500], [true, true, true]],
    [2, 2, [0, 0, 250, 500], [true, true, false, true]],
    [1, 3, [0, 0, 0, 0, 1000, 1000], [true, true, true, false, true, false]],
    [0.5, 1, [0, 1000, 2000], [true, false, true]],
  ])('rate %p burst %p at %p → %p', (rate, burst, times, expected) => {
    const bucket = new TokenBucket(rate, burst, 0);
    expect(times.map((t) => bucket.take(t).ok)).toEqual(expected);
  });

  test('wait and full times', () => {
    const bucket = new TokenBucket(4, 2, 0);
    expect(bucket.take(0)).toEqual({ ok: true, remaining: 1, waitSeconds: 0, fullSeconds: 0.25 });
    bucket.take(0);
    const refused = bucket.take(0);
    expect(refused.ok).toBe(false);
    expect(refused.remaining).toBe(0);
    expect(refused.waitSeconds).toBeCloseTo(0.25);
    expect(refused.fullSeconds).toBeCloseTo(0.5);
  });

  test('never stores more than burst', () => {
    const bucket = new TokenBucket(10, 3, 0);
    const oks = [0, 0, 0, 0].map(() => bucket.take(1_000_000).ok);
    expect(oks).toEqual([true, true, true, false]);
  });
});

describe('createRandom', () => {
  test('deterministic per seed, in [0, 1)', () => {
    const a = createRandom(5);
    const b = createRandom(5);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(xs[0]).not.toBe(createRandom(6)());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

describe('options', () => {
  test.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['example.com', false],
    ['', false],
  ])('isLoopbackHost(%p) = %p', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });

  test('defaults', () => {
    expect(resolveSimOptions({})).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      rateLimit: 0,
      burst: 1,
      rateLimitHeaders: false,
      listShape: 'object',
      maxPageSize: 100,
      error5xxRate: 0,
      latencyMs: 0,
    });
    expect(resolveSimOptions({ rateLimit: 25 }).burst).toBe(25);
    expect(resolveSimOptions({ rateLimit: 0.2 }).burst).toBe(1);
    expect(resolveSimOptions({ rateLimit: 25, burst: 5 }).burst).toBe(5);
  });

  test('every problem in one error', () => {
    expect(() => resolveSimOptions({ port: 70000, generate: -1, latencyMs: -5, seed: 1.5, keys: { '': 'x' } })).toThrow(UsageError);
    let caught: unknown;
    try {
      resolveSimOptions({ port: 70000, generate: -1, latencyMs: -5, seed: 1.5, busyRate: Number.NaN });
    } catch (err) {
      caught = err;
    }
    // Outside the catch: options that are accepted (no throw) fail here instead of passing silently.
    expect(caught).toBeInstanceOf(UsageError);
    const msg = (caught as Error).message;
    for (const name of ['port', 'generate', 'latencyMs', 'seed', 'busyRate']) expect(msg).toContain(`${name}:`);
  });
});

describe('seed files', () => {
  test('valid seed builds owners, keys and images in order', () => {
    const seed = parseSeed({
      owners: { alice: { keys: ['ka', 'ka2'] }, bob: { keys: ['kb'], subscription_tier: 2 } },
      images: [
        { object_id: 'b1', owner: 'bob', tags: ['x'] },
        { object_id: 'a1', owner: 'alice' },
        { object_id: 'a2', owner: 'alice', tags: ['y', 'z'] },
      ],
    });
    const lib = buildLibrary({ seed });
    expect(lib.keys()).toEqual({ ka: 'alice', ka2: 'alice', kb: 'bob' });
    expect(lib.ids('alice')).toEqual(['a1', 'a2']);
    expect(lib.get('a1')).toEqual({ id: 'a1', owner: 'alice', tags: [] });
    expect(lib.owner('bob')).toMatchObject({ subscription_tier: 2 });
    expect(lib.owner('alice')!.bucket_id).toMatch(/^[0-9a-f]{12}$/);
  });

  test('every problem is reported with its JSON path', () => {
    let err: unknown;
    try {
      parseSeed(
        {
          owners: { alice: { keys: ['k'] }, bob: { keys: ['k'] } },
          images: [
            { object_id: 'a', owner: 'alice', tags: [] },
            { object_id: 'a', owner: 'carol', tags: [] },
          ],
        },
        'lib.json',
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SeedError);
    expect((err as SeedError).problems).toEqual([
      'lib.json: $.owners.bob.keys[0]: key already belongs to owner "alice"',
      'lib.json: $.images[1].owner: unknown owner "carol" (declare it under "owners")',
      'lib.json: $.images[1].object_id: duplicate id "a"',
    ]);
  });

  test('schema errors: unknown keys, wrong types', () => {
    let err: unknown;
    try {
      parseSeed({ owners: { alice: { keys: 'k' } }, images: [{ object_id: 'a', owner: 'alice', tags: [1], colour: 'red' }] }, 'f');
    } catch (e) {
      err = e;
    }
    const problems = (err as SeedError).problems.join('\n');
    expect(problems).toContain('$.owners.alice.keys');
    expect(problems).toContain('$.images[0].tags[0]');
    expect(problems).toContain('colour');
  });

  test('no keys at all → the default sk_test_alice key', () => {
    expect(buildLibrary({ generate: 3 }).keys()).toEqual({ sk_test_alice: 'alice' });
    expect(buildLibrary({ keys: { k: 'zed' } }).keys()).toEqual({ k: 'zed' });
    // Generated images belong to alice: she keeps a key.
    expect(buildLibrary({ generate: 3, keys: { k: 'zed' } }).keys()).toEqual({ k: 'zed', sk_test_alice: 'alice' });
    expect(buildLibrary({ generate: 3, keys: { k: 'alice' } }).keys()).toEqual({ k: 'alice' });
  });

  test('an id with a special name stays an ordinary key in dumps', () => {
    const lib = buildLibrary({ seed: parseSeed({ owners: { a: { keys: ['k'] } }, images: [{ object_id: '__proto__', owner: 'a', tags: ['t'] }] }) });
    expect(Object.keys(lib.dump())).toEqual(['__proto__']);
    expect(JSON.stringify(lib.dump())).toBe('{"__proto__":{"owner":"a","tags":["t"]}}');
  });
});

describe('NDJSON seeds (a `retag export` file)', () => {
  test('id or object_id, tags, optional owner; alice gets the default key', () => {
    const seed = parseNdjsonSeed('{"id":"a","tags":["x"]}\r\n\n{"object_id":"b","tags":[],"owner":"bob"}\n{"id":"c"}\n');
    const lib = buildLibrary({ seed });
    expect(lib.ids('alice')).toEqual(['a', 'c']);
    expect(lib.get('b')).toEqual({ id: 'b', owner: 'bob', tags: [] });
    expect(lib.keys()).toEqual({ sk_test_alice: 'alice' });
  });

  test('every bad line is reported with its number', () => {
    let err: unknown;
    try {
      parseNdjsonSeed('{"id":"a"}\nnope\n{"id":"a"}\n{"tags":[]}\n{"id":"d","tags":"x"}', 'exp.ndjson');
    } catch (e) {
      err = e;
    }
    expect((err as SeedError).problems).toEqual([
      expect.stringMatching(/^exp\.ndjson:2: not valid JSON/),
      'exp.ndjson:3: duplicate id "a"',
      'exp.ndjson:4: expected a non-empty "id" or "object_id"',
      'exp.ndjson:5: "tags" must be an array of strings',
    ]);
  });
});

describe('renderPage', () => {
  const records = [
    { id: 'a', tags: ['x', 'y'] },
    { id: 'b/c', tags: [] },
  ];
  const meta = { page: 2, pageSize: 2, total: 5, bucketId: 'bkt' };

  test.each([
    [
      'object',
      {
        data: [
          { object_id: 'a', object_url: 'https://files.reimage.dev/bkt/a/', tags: ['x', 'y'] },
          { object_id: 'b/c', object_url: 'https://files.reimage.dev/bkt/b%2Fc/', tags: [] },
        ],
        page: 2,
        page_size: 2,
        total: 5,
        total_pages: 3,
      },
    ],
    ['array', [{ object_id: 'a', tags: ['x', 'y'] }, { object_id: 'b/c', tags: [] }]],
    ['images', { images: [{ id: 'a', tags: 'x,y' }, { id: 'b/c', tags: '' }], page: 2, has_more: true }],
    ['items-nometa', { items: [{ object_id: 'a', tags: ['x', 'y'] }, { object_id: 'b/c', tags: [] }] }],
  ] as const)('%s', (shape, expected) => {
    expect(renderPage(shape, records, meta)).toEqual(expected);
  });

  test('has_more is false on the last page', () => {
    expect(renderPage('images', [], { ...meta, page: 3 })).toMatchObject({ has_more: false });
  });
});
