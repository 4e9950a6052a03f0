/**
 * Integration (style.md §8, second layer): the real runner stack in-process against a
 * reimage-compatible server this project did not write (test/helpers/foreign-server.ts): a bare
 * array or a `results` object, comma-joined tags, no paging metadata, page_size capped at 7.
 */
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { startForeignServer, type ForeignServer } from './helpers/foreign-server.js';
import { hang } from './helpers/recording-server.js';
import {
  CAROL_KEY,
  DAVE_KEY,
  EXPECTED_FAILURES,
  VANISHING,
  alreadyAsWanted,
  expectedAfter,
  foreignImages,
  foreignRules,
  rulesById,
} from './helpers/foreign-fixture.js';
import { runInProcess, targetsFromRules } from './helpers/in-process-run.js';
import { tempDir } from './helpers/cli.js';

const tmp = tempDir('retag-run-foreign-');
afterAll(() => tmp.cleanup());

let server: ForeignServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(shape: 'array' | 'results', tagsAs: 'string' | 'array' = 'string', latencyMs?: number): Promise<ForeignServer> {
  server = await startForeignServer({
    images: foreignImages(),
    keys: { [CAROL_KEY]: 'carol', [DAVE_KEY]: 'dave' },
    shape,
    tagsAs,
    maxPageSize: 7,
    vanishOnUpdate: VANISHING,
    ...(latencyMs !== undefined ? { latencyMs } : {}),
  });
  return server;
}

describe.each([
  ['a top-level array of {id, tags:"a,b"}', 'array' as const, 'string' as const],
  ['{"results": [{object_id, tags:"a,b"}]}', 'results' as const, 'string' as const],
  ['{"results": [{object_id, tags:[...]}]}', 'results' as const, 'array' as const],
])('against a foreign server answering %s, page_size capped to 7', (_label, shape, tagsAs) => {
  test('every image ends as its rules compose to; no write for images already as wanted; failures are exactly the 404/403/unknown items', async () => {
    const srv = await start(shape, tagsAs);
    const images = foreignImages();
    const rules = foreignRules();
    const targets = await targetsFromRules(tmp.dir, rules, `m-${shape}-${tagsAs}.ndjson`);
    const { result, byId, entries } = await runInProcess(targets, { baseUrl: srv.url, apiKey: CAROL_KEY, pageSize: 50, concurrency: 4 });

    // Paging: 50 asked every time, 7 served; the short pages were not taken for the end, the
    // empty page was (no metadata to go by). 33 visible images → 7,7,7,7,5 then 0.
    // The run wrote while it scanned and some ids were not seen: the listing may have moved, so a
    // confirming pass reads it all again before calling them not_found (design.md §3).
    expect(srv.listRequests().map((r) => r.query.page_size)).toEqual(Array(12).fill('50'));
    expect(srv.listRequests().map((r) => r.query.page)).toEqual(['1', '2', '3', '4', '5', '6', '1', '2', '3', '4', '5', '6']);
    expect(srv.pageSizesServed()).toEqual([7, 7, 7, 7, 5, 0, 7, 7, 7, 7, 5, 0]);
    expect(result.passes).toBe(2);

    // One journal entry per target, none aborted.
    expect(result.aborted).toBeUndefined();
    expect(entries).toHaveLength(targets.length);
    expect(new Set(entries.map((e) => e.id)).size).toBe(targets.length);

    // Every image ends with exactly the tags its rules compose to, in order (existing tags keep
    // their place, added ones are appended); untouched when it failed or was already as wanted.
    const unchanged = alreadyAsWanted(images, rules);
    for (const [id, idRules] of rulesById(rules)) {
      const image = images.find((i) => i.id === id);
      if (!image) continue;
      const untouched = id in EXPECTED_FAILURES || unchanged.includes(id);
      expect({ id, tags: srv.tags(id) }).toEqual({ id, tags: untouched ? image.tags : expectedAfter(image.tags, idRules) });
    }

    // No update request for an image already as wanted; one per image that changes.
    expect(unchanged.sort()).toEqual(['c-02', 'c-04', 'c-07', 'c-08', 'c-12', 'c-15', 'c-18', 'c-21', 'c-24', 'c-27'].sort());
    const sent = srv.updatesSent();
    for (const id of unchanged) {
      expect(sent).not.toContain(id);
      expect(byId.get(id)).toMatchObject({ outcome: 'unchanged', attempts: 0 });
    }
    expect(new Set(sent).size).toBe(sent.length); // no fault here: nothing written twice
    const changing = [...rulesById(rules).keys()].filter((id) => !unchanged.includes(id) && !(id in EXPECTED_FAILURES));
    expect(new Set(sent)).toEqual(new Set([...changing, 'c-05', 'd-01']));
    for (const id of changing) expect(byId.get(id)).toMatchObject({ outcome: 'updated', attempts: 1, status: 200 });

    // Failures: exactly the unknown id, the invisible one, the vanished one (404), the read-only one (403).
    const failed = Object.fromEntries(entries.filter((e) => e.outcome === 'failed').map((e) => [e.id, e.reason]));
    expect(failed).toEqual(EXPECTED_FAILURES);
    expect(byId.get('c-05')).toMatchObject({ status: 404, attempts: 1 });
    expect(byId.get('d-01')).toMatchObject({ status: 403, attempts: 1 });
    expect(byId.get('ghost-404')).toMatchObject({ attempts: 0, before: null, after: null });
    expect(result.failed).toBe(4);
  });
});

test('ids travel URL-encoded; bodies are {"tags": [...]} with the normalised full list', async () => {
  const srv = await start('array');
  const targets = await targetsFromRules(tmp.dir, foreignRules(), 'm-encoding.ndjson');
  await runInProcess(targets, { baseUrl: srv.url, apiKey: CAROL_KEY, pageSize: 50 });
  const posts = srv.requests.filter((r) => r.method === 'POST');
  const cafe = posts.find((r) => r.path === `/update/${encodeURIComponent('café-01')}`);
  expect(cafe?.json).toEqual({ tags: ['photo', 'naïve tag'] });
  expect(posts.find((r) => r.path === '/update/pic(2)' || r.path === '/update/pic%282%29')?.json).toEqual({ tags: ['product'] });
  expect(posts.find((r) => r.path === '/update/c-10')?.json).toEqual({ tags: ['summer sale', 'hero'] });
  expect(posts.find((r) => r.path === '/update/c-06')?.json).toEqual({ tags: [] });
  for (const p of posts) expect(p.headers['content-type']).toMatch(/^application\/json/);
});

test('--no-read against the foreign server: no GET; set/clear sent blind; unknown → 404, foreign → 403', async () => {
  const srv = await start('array');
  const rules = [
    { id: 'c-01', set: ['only'] },
    { id: 'c-07', clear: true }, // already empty: still written (no read, no skip)
    { id: 'd-01', set: ['x'] },
    { id: 'd-02', set: ['x'] },
    { id: 'ghost-404', set: ['x'] },
  ];
  const targets = await targetsFromRules(tmp.dir, rules, 'm-noread.ndjson');
  const { byId, counters } = await runInProcess(targets, { baseUrl: srv.url, apiKey: CAROL_KEY, read: false });
  expect(srv.requests.filter((r) => r.method === 'GET')).toHaveLength(0);
  expect(counters.reads).toBe(0);
  expect(srv.updatesSent().sort()).toEqual(['c-01', 'c-07', 'd-01', 'd-02', 'ghost-404']);
  expect(srv.tags('c-01')).toEqual(['only']);
  expect(byId.get('c-07')).toMatchObject({ outcome: 'updated', before: null, after: [] });
  expect(byId.get('d-01')).toMatchObject({ outcome: 'failed', reason: 'forbidden', status: 403 });
  expect(byId.get('d-02')).toMatchObject({ outcome: 'failed', reason: 'forbidden', status: 403 });
  expect(byId.get('ghost-404')).toMatchObject({ outcome: 'failed', reason: 'not_found', status: 404 });
  expect(srv.tags('d-01')).toEqual(['dave']);
});


describe('other ways a compatible server may behave', () => {
  const run = async (srv: ForeignServer, name: string, extra: Partial<Parameters<typeof runInProcess>[1]> = {}) =>
    runInProcess(await targetsFromRules(tmp.dir, foreignRules(), name), { baseUrl: srv.url, apiKey: CAROL_KEY, pageSize: 50, ...extra });

  test('a server that clamps `page` (past the end it repeats the last page): the repeat ends the listing', async () => {
    server = await startForeignServer({
      images: foreignImages(),
      keys: { [CAROL_KEY]: 'carol' },
      maxPageSize: 7,
      pastEnd: 'repeat-last',
    });
    const { byId, result } = await run(server, 'm-clamp.ndjson');
    // One confirming pass (the run wrote while scanning, ghost-404 unseen); the repeated last
    // page is the end of each pass, not the listing moving, so no second confirming pass.
    expect(server.pageSizesServed()).toEqual([7, 7, 7, 7, 5, 5, 7, 7, 7, 7, 5, 5]);
    expect(result.passes).toBe(2);
    expect(server.tags('c-30')).toEqual(['bulk', 'product', 'tail']); // on the last page
    expect(byId.get('ghost-404')).toMatchObject({ outcome: 'failed', reason: 'not_found' });
    expect(server.updatesSent()).not.toContain('ghost-404');
  });

  test('the API under a path prefix (base URL http://host/api): every request keeps the prefix', async () => {
    server = await startForeignServer({ images: foreignImages(), keys: { [CAROL_KEY]: 'carol' }, maxPageSize: 7, prefix: '/api' });
    const { result } = await run(server, 'm-prefix.ndjson');
    expect(result.failed).toBe(3); // d-01 (403), d-02 and ghost-404 (not found); nothing vanishes here
    for (const r of server.requests) expect(r.path.startsWith('/api/')).toBe(true);
    expect(server.tags('c-01')).toEqual(['product', 'hero', 'catalog-2025']);
  });

  test('429 with Retry-After on the first page and 503s on writes: retried, every image still right', async () => {
    let requests = 0;
    let posts = 0;
    const srv = (server = await startForeignServer({
      images: foreignImages(),
      keys: { [CAROL_KEY]: 'carol' },
      maxPageSize: 7,
      vanishOnUpdate: VANISHING,
      intercept: (req) => {
        if (++requests === 1) return { status: 429, body: { error: 'Too Many Requests' }, headers: { 'retry-after': '1' } };
        if (req.method === 'POST' && ++posts % 3 === 0) return { status: 503, body: { error: 'busy' }, headers: { 'retry-after': '0' } };
        return undefined;
      },
    }));
    const images = foreignImages();
    const rules = foreignRules();
    const targets = await targetsFromRules(tmp.dir, rules, 'm-429.ndjson');
    const started = Date.now();
    const { byId, counters } = await runInProcess(targets, { baseUrl: srv.url, apiKey: CAROL_KEY, pageSize: 50 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // the Retry-After was honoured
    expect(counters.status429).toBe(1);
    expect(counters.retries).toBeGreaterThan(5);
    const unchanged = alreadyAsWanted(images, rules);
    for (const [id, idRules] of rulesById(rules)) {
      const image = images.find((i) => i.id === id);
      if (!image || id in EXPECTED_FAILURES || unchanged.includes(id)) continue;
      expect({ id, tags: srv.tags(id) }).toEqual({ id, tags: expectedAfter(image.tags, idRules) });
      expect(byId.get(id)?.outcome).toBe('updated');
    }
  });
});

test('writes start while the listing is still being read (read → write time stays short, design §3)', async () => {
  const images = Array.from({ length: 300 }, (_, i) => ({ id: `p-${i + 1}`, owner: 'carol', tags: ['old'] }));
  server = await startForeignServer({ images, keys: { [CAROL_KEY]: 'carol' }, maxPageSize: 10, latencyMs: 5 });
  const rules = images.map((i) => ({ id: i.id, set: ['new'] })).concat([{ id: 'ghost', set: ['x'] }]); // ghost: the scan must reach the end
  const targets = await targetsFromRules(tmp.dir, rules, 'm-interleave.ndjson');
  const { result } = await runInProcess(targets, { baseUrl: server.url, apiKey: CAROL_KEY, pageSize: 10, rate: 1000, concurrency: 4 });
  expect(result.failed).toBe(1);
  const reqs = server.requests;
  // 31 pages (the 31st is empty), then a confirming pass for ghost (the run wrote while scanning).
  const gets = reqs.filter((r) => r.method === 'GET').slice(0, 31);
  const firstPost = reqs.findIndex((r) => r.method === 'POST');
  expect(reqs.filter((r) => r.method === 'GET')).toHaveLength(62);
  expect(result.passes).toBe(2);
  expect(firstPost).toBeLessThan(reqs.indexOf(gets[3]!)); // writing began within the first few pages
  // Each image is written soon after the page that showed it was read.
  const pageReadAt = new Map<string, number>();
  gets.forEach((g, i) => images.slice(i * 10, i * 10 + 10).forEach((img) => pageReadAt.set(img.id, g.at)));
  const lags = reqs.filter((r) => r.method === 'POST').map((r) => r.at - pageReadAt.get(r.path.slice('/update/'.length))!);
  const runMs = reqs.at(-1)!.at - reqs[0]!.at;
  console.log(`read→write lag: max ${Math.max(...lags)} ms over a ${runMs} ms run`);
  expect(Math.max(...lags)).toBeLessThan(runMs / 2);
  expect(images.every((i) => server!.tags(i.id)?.[0] === 'new')).toBe(true);
});

test('a request that never gets an answer times out and is retried (the hung connection is not reused)', async () => {
  server = await startForeignServer({ images: foreignImages(), keys: { [CAROL_KEY]: 'carol' } });
  server.recorder.enqueue(hang(), hang()); // the first two writes never get an answer
  const targets = await targetsFromRules(tmp.dir, [{ id: 'c-01', set: ['t1'] }, { id: 'c-02', set: ['t2'] }, { id: 'c-03', set: ['t3'] }], 'm-hang.ndjson');
  const started = Date.now();
  const { result, byId } = await runInProcess(targets, { baseUrl: server.url, apiKey: CAROL_KEY, read: false, timeoutMs: 300, concurrency: 2 });
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(result.failed).toBe(0);
  expect(['c-01', 'c-02', 'c-03'].map((id) => server!.tags(id))).toEqual([['t1'], ['t2'], ['t3']]);
  expect(byId.get('c-01')!.attempts + byId.get('c-02')!.attempts).toBe(4);
});

test('a listing record without tags (a server omitting empty fields) stops the run before any write, even mid-page', async () => {
  // c-07 is untagged, 7th on page 1: c-01…c-06 come before it on the same page.
  server = await startForeignServer({ images: foreignImages(), keys: { [CAROL_KEY]: 'carol' }, maxPageSize: 7, omitEmptyTags: true });
  const { result, entries } = await runInProcess(await targetsFromRules(tmp.dir, foreignRules(), 'm-notags.ndjson'), {
    baseUrl: server.url,
    apiKey: CAROL_KEY,
    pageSize: 50,
  });
  expect(result.aborted?.reason).toBe('list_shape');
  expect(result.aborted?.message).toContain('c-07');
  expect(server.updatesSent()).toEqual([]);
  expect(entries.filter((e) => e.outcome === 'updated')).toEqual([]);
});
