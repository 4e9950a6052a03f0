/**
 * Listings that misbehave the way real APIs do (design.md §3 "A listing that moves", §8):
 * `listOrder` (by last modification, re-evaluated per request), `pageOverlap`, `pastEnd: '404'`,
 * and `image_count` of `GET /user/`. The simulator runs in-process on port 0; everything is
 * asserted over plain HTTP on 127.0.0.1, with exact page contents.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { startSimulator, type SimOptions, type Simulator } from '../src/sim/index.js';
import { resolveSimOptions } from '../src/sim/options.js';
import { ModifiedOrder, type Slotted } from '../src/sim/modified-order.js';
import { createRandom } from '../src/sim/prng.js';
import { UsageError } from '../src/errors.js';
import { CLI, ROOT, assertBuilt, runCli } from './helpers/cli.js';

const ALICE = 'sk_test_alice';
const BOB = 'sk_bob';
type Json = Record<string, unknown>;

const running: Simulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

/** Ten generated images img-000001 … img-000010 owned by alice; bob (key sk_bob) owns none. */
async function start(opts: SimOptions = {}): Promise<Simulator> {
  const sim = await startSimulator({ generate: 10, keys: { [ALICE]: 'alice', [BOB]: 'bob' }, ...opts });
  running.push(sim);
  return sim;
}

const img = (n: number) => `img-${String(n).padStart(6, '0')}`;
const imgs = (...ns: number[]) => ns.map(img);

async function getJson(sim: Simulator, path: string, key = ALICE): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${sim.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

async function update(sim: Simulator, id: string, body: unknown, key = ALICE): Promise<number> {
  const res = await fetch(`${sim.url}/update/${encodeURIComponent(id)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The ids of one page in the default 'object' shape, and its metadata. */
async function page(sim: Simulator, n: number, size: number, extra = ''): Promise<{ ids: string[]; meta: Json }> {
  const { status, body } = await getJson(sim, `/get/?page=${n}&page_size=${size}${extra}`);
  expect(status).toBe(200);
  const { data, ...meta } = body as Json;
  return { ids: (data as Json[]).map((r) => String(r['object_id'])), meta };
}

describe("listOrder 'modified-asc'", () => {
  test('before any write it lists in seed order; an update moves the image to the end', async () => {
    const sim = await start({ listOrder: 'modified-asc' });
    expect((await page(sim, 1, 4)).ids).toEqual(imgs(1, 2, 3, 4));
    expect((await page(sim, 3, 4)).ids).toEqual(imgs(9, 10));

    expect(await update(sim, img(2), { tags: ['moved'] })).toBe(200);
    expect((await page(sim, 1, 4)).ids).toEqual(imgs(1, 3, 4, 5));
    expect((await page(sim, 2, 4)).ids).toEqual(imgs(6, 7, 8, 9));
    const last = await page(sim, 3, 4);
    expect(last.ids).toEqual(imgs(10, 2));
    expect(last.meta).toMatchObject({ total: 10, total_pages: 3 });

    // Writing the same tags again is still a modification: it moves again.
    expect(await update(sim, img(10), { tags: sim.library.get(img(10))!.tags })).toBe(200);
    expect((await page(sim, 3, 4)).ids).toEqual(imgs(2, 10));
    expect(sim.library.ids('alice')).toEqual(imgs(1, 3, 4, 5, 6, 7, 8, 9, 2, 10));
    expect(sim.library.ids('alice', 'id')).toEqual(imgs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
  });

  test('page-number paging while writing skips images and repeats others (each page cut from the order of its request)', async () => {
    const sim = await start({ listOrder: 'modified-asc' });
    const first = await page(sim, 1, 4);
    expect(first.ids).toEqual(imgs(1, 2, 3, 4));
    for (const id of first.ids) expect(await update(sim, id, { tags: ['done'] })).toBe(200);
    // Order is now 5..10, 1..4: page 2 (positions 4..7) skips 5–8 and shows 1 and 2 again.
    expect((await page(sim, 2, 4)).ids).toEqual(imgs(9, 10, 1, 2));
    expect((await page(sim, 3, 4)).ids).toEqual(imgs(3, 4));
  });

  test('an update answered 500 after it was applied moves the image; a refused one (400, 403) does not', async () => {
    const sim = await start({ listOrder: 'modified-asc' });
    expect(await update(sim, img(1), { tags: 'not-an-array' })).toBe(400);
    expect(await update(sim, img(1), { tags: ['x'] }, BOB)).toBe(403);
    expect((await page(sim, 1, 3)).ids).toEqual(imgs(1, 2, 3));

    const faulty = await start({ listOrder: 'modified-asc', faultAfterApplyRate: 1 });
    expect(await update(faulty, img(1), { tags: ['x'] })).toBe(500);
    expect((await page(faulty, 1, 3)).ids).toEqual(imgs(2, 3, 4));
    expect((await page(faulty, 4, 3)).ids).toEqual(imgs(1));
  });

  test('in-process edits: setTags moves, add appends, remove closes the gap; the tags filter keeps the order', async () => {
    const sim = await start({ listOrder: 'modified-asc' });
    sim.library.setTags(img(3), ['special']);
    sim.library.add({ id: 'late', owner: 'alice', tags: ['special'] });
    expect(sim.library.remove(img(1))).toBe(true);
    expect((await page(sim, 1, 100)).ids).toEqual([...imgs(2, 4, 5, 6, 7, 8, 9, 10, 3), 'late']);
    expect(await update(sim, img(3), { tags: ['special'] })).toBe(200);
    const filtered = await page(sim, 1, 100, '&tags=special');
    expect(filtered.ids).toEqual(['late', img(3)]);
    expect(filtered.meta).toMatchObject({ total: 2 });
  });

  test('other list shapes follow the same order', async () => {
    const sim = await start({ listOrder: 'modified-asc', listShape: 'items-nometa' });
    await update(sim, img(1), { tags: [] });
    const { body } = await getJson(sim, '/get/?page=3&page_size=4');
    expect(body).toEqual({
      items: [
        { object_id: img(10), tags: sim.library.get(img(10))!.tags },
        { object_id: img(1), tags: [] },
      ],
    });
  });

  test('a large library: pages are cut from the current order at any depth', async () => {
    const sim = await start({ generate: 200_000, listOrder: 'modified-asc', maxPageSize: 100 });
    for (const n of [5, 150_000, 7]) expect(await update(sim, img(n), { tags: ['moved'] })).toBe(200);
    const last = await page(sim, 2000, 100);
    expect(last.ids).toEqual([...imgs(...Array.from({ length: 97 }, (_, i) => 199_904 + i)), ...imgs(5, 150_000, 7)]);
    // 5 and 7 left the front, so position p now holds img-(p+3) up to img-149999, then img-(p+4).
    const middle = await page(sim, 1500, 100);
    expect(middle.ids[0]).toBe(img(149_903));
    expect(middle.ids.slice(-4)).toEqual(imgs(149_999, 150_001, 150_002, 150_003));
    expect(middle.meta).toMatchObject({ total: 200_000, total_pages: 2000 });
  });
});

describe("listOrder 'modified-desc'", () => {
  test('most recently modified first; an update moves the image to the front', async () => {
    const sim = await start({ listOrder: 'modified-desc' });
    expect((await page(sim, 1, 4)).ids).toEqual(imgs(10, 9, 8, 7));
    expect((await page(sim, 3, 4)).ids).toEqual(imgs(2, 1));

    expect(await update(sim, img(3), { tags: ['x'] })).toBe(200);
    expect((await page(sim, 1, 4)).ids).toEqual(imgs(3, 10, 9, 8));
    expect((await page(sim, 3, 4)).ids).toEqual(imgs(2, 1));
    expect(await update(sim, img(9), { tags: ['y'] })).toBe(200);
    expect((await page(sim, 1, 4)).ids).toEqual(imgs(9, 3, 10, 8));
    expect((await page(sim, 2, 4)).ids).toEqual(imgs(7, 6, 5, 4));
    expect(sim.library.ids('alice')).toEqual(imgs(9, 3, 10, 8, 7, 6, 5, 4, 2, 1));
  });

  test("'id' (the default) never moves", async () => {
    const sim = await start();
    await update(sim, img(1), { tags: ['x'] });
    sim.library.setTags(img(2), ['y']);
    expect((await page(sim, 1, 4)).ids).toEqual(imgs(1, 2, 3, 4));
  });
});

describe('pageOverlap', () => {
  test('each page after the first starts N records early: consecutive pages share exactly N; total stays true', async () => {
    const sim = await start({ pageOverlap: 2 });
    const pages = [await page(sim, 1, 4), await page(sim, 2, 4), await page(sim, 3, 4)];
    expect(pages.map((p) => p.ids)).toEqual([imgs(1, 2, 3, 4), imgs(3, 4, 5, 6, 7, 8), imgs(7, 8, 9, 10)]);
    for (const p of pages) expect(p.meta).toMatchObject({ total: 10, total_pages: 3, page_size: 4 });
    for (let i = 1; i < pages.length; i++) {
      const shared = pages[i]!.ids.filter((id) => pages[i - 1]!.ids.includes(id));
      expect(shared).toHaveLength(2);
    }
    // A client counting records rather than distinct ids reaches `total` after two pages, with 9 and 10 unseen.
    const counted = pages[0]!.ids.length + pages[1]!.ids.length;
    expect(counted).toBe(10);
    expect(new Set([...pages[0]!.ids, ...pages[1]!.ids]).size).toBe(8);
    // Past the end is still past the end, not the last N records again.
    expect((await page(sim, 4, 4)).ids).toEqual([]);
  });

  test('an overlap larger than the page starts no earlier than the first record; other shapes overlap too', async () => {
    const sim = await start({ pageOverlap: 5 });
    expect((await page(sim, 2, 3)).ids).toEqual(imgs(1, 2, 3, 4, 5, 6));
    const images = await start({ pageOverlap: 1, listShape: 'images' });
    const { body } = await getJson(images, '/get/?page=2&page_size=4');
    expect(body).toMatchObject({ page: 2, has_more: true });
    expect(((body as Json)['images'] as Json[]).map((r) => r['id'])).toEqual(imgs(4, 5, 6, 7, 8));
  });

  test('overlap with a moving listing', async () => {
    const sim = await start({ pageOverlap: 1, listOrder: 'modified-asc' });
    expect((await page(sim, 1, 4)).ids).toEqual(imgs(1, 2, 3, 4));
    await update(sim, img(1), { tags: ['x'] });
    expect((await page(sim, 2, 4)).ids).toEqual(imgs(5, 6, 7, 8, 9));
    expect((await page(sim, 3, 4)).ids).toEqual(imgs(9, 10, 1));
  });
});

describe("pastEnd '404'", () => {
  test('with no paging metadata: the pages, then 404 for the first page after the last', async () => {
    const sim = await start({ pastEnd: '404', listShape: 'items-nometa' });
    const ids = async (n: number) => {
      const { status, body } = await getJson(sim, `/get/?page=${n}&page_size=4`);
      expect({ n, status }).toEqual({ n, status: 200 });
      expect(Object.keys(body as Json)).toEqual(['items']);
      return ((body as Json)['items'] as Json[]).map((r) => r['object_id']);
    };
    expect([await ids(1), await ids(2), await ids(3)]).toEqual([imgs(1, 2, 3, 4), imgs(5, 6, 7, 8), imgs(9, 10)]);
    expect(await getJson(sim, '/get/?page=4&page_size=4')).toEqual({ status: 404, body: { error: 'Not found' } });
    expect((await getJson(sim, '/get/?page=99&page_size=4')).status).toBe(404);
    // When the library fills the last page exactly, the next page is the 404.
    expect((await getJson(sim, '/get/?page=3&page_size=5')).status).toBe(404);
  });

  test('page 1 of an empty listing is an empty page, not a 404; the default answers past the end with an empty page', async () => {
    const sim = await start({ pastEnd: '404', listShape: 'items-nometa' });
    expect(await getJson(sim, '/get/?page=1&page_size=4', BOB)).toEqual({ status: 200, body: { items: [] } });
    expect((await getJson(sim, '/get/?page=2&page_size=4', BOB)).status).toBe(404);
    const dflt = await start({ listShape: 'items-nometa' });
    expect(await getJson(dflt, '/get/?page=4&page_size=4')).toEqual({ status: 200, body: { items: [] } });
  });

  test('with an overlap, past the end is still a 404', async () => {
    const sim = await start({ pastEnd: '404', pageOverlap: 3 });
    expect((await page(sim, 3, 4)).ids).toEqual(imgs(6, 7, 8, 9, 10));
    expect((await getJson(sim, '/get/?page=4&page_size=4')).status).toBe(404);
  });
});

describe('GET /user/ image_count', () => {
  test("is the number of images the key's owner has, kept current", async () => {
    const sim = await start();
    expect((await getJson(sim, '/user/')).body).toMatchObject({ name: 'alice', image_count: 10 });
    expect((await getJson(sim, '/user/', BOB)).body).toMatchObject({ name: 'bob', image_count: 0 });
    sim.library.add({ id: 'b1', owner: 'bob', tags: [] });
    sim.library.remove(img(1));
    sim.library.remove(img(2));
    expect((await getJson(sim, '/user/')).body).toMatchObject({ image_count: 8 });
    expect((await getJson(sim, '/user/', BOB)).body).toMatchObject({ image_count: 1 });
  });
});

describe('options', () => {
  test('defaults, and every bad value reported with the option it belongs to', async () => {
    expect(resolveSimOptions({})).toMatchObject({ listOrder: 'id', pageOverlap: 0, pastEnd: 'empty' });
    expect(resolveSimOptions({ pastEnd: 404 as unknown as '404' })).toMatchObject({ pastEnd: '404' });
    const bad = { listOrder: 'updated' as 'id', pageOverlap: -1, pastEnd: '410' as '404' };
    expect(() => resolveSimOptions(bad)).toThrow(UsageError);
    let message = '';
    try {
      resolveSimOptions(bad);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('listOrder: expected one of id, modified-asc, modified-desc, got "updated"');
    expect(message).toContain('pageOverlap: expected a whole number of records ≥ 0, got -1');
    expect(message).toContain('pastEnd: expected one of empty, 404, got "410"');
    expect(() => resolveSimOptions({ pageOverlap: 1.5 })).toThrow(/pageOverlap/);
    await expect(startSimulator({ generate: 1, listOrder: 'random' as 'id' })).rejects.toThrow(/listOrder/);
  });
});

describe('ModifiedOrder against a plain array', () => {
  test('random touches, appends and removes (with compactions) keep at(), forEach and size right', () => {
    const random = createRandom(7);
    const entries = new Map<string, Slotted>();
    const model: string[] = [];
    for (let i = 0; i < 50; i++) {
      entries.set(`s${i}`, { slot: -1 });
      model.push(`s${i}`);
    }
    const order = ModifiedOrder.from(model, (id) => entries.get(id)!);
    let made = 50;
    for (let step = 0; step < 5000; step++) {
      const r = random();
      if (r < 0.6 && model.length > 0) {
        const id = model[Math.floor(random() * model.length)]!;
        order.touch(id, entries.get(id)!);
        model.splice(model.indexOf(id), 1);
        model.push(id);
      } else if (r < 0.8 || model.length === 0) {
        const id = `n${made++}`;
        const entry = { slot: -1 };
        entries.set(id, entry);
        order.append(id, entry);
        model.push(id);
      } else {
        const id = model[Math.floor(random() * model.length)]!;
        order.remove(entries.get(id)!);
        order.remove(entries.get(id)!); // twice: a no-op
        model.splice(model.indexOf(id), 1);
      }
      if (step % 97 === 0) {
        expect(order.size).toBe(model.length);
        expect(Array.from({ length: order.size }, (_, k) => order.at(k))).toEqual(model);
        const desc: string[] = [];
        order.forEach((id) => desc.push(id), true);
        expect(desc).toEqual([...model].reverse());
      }
    }
    expect(() => order.at(order.size)).toThrow(RangeError);
  });
});

describe('retag sim (built CLI)', () => {
  test('--help describes the three flags', async () => {
    const help = await runCli(['sim', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--list-order[\s\S]*"id", "modified-asc", "modified-desc"/);
    expect(help.stdout).toMatch(/--page-overlap/);
    expect(help.stdout).toMatch(/--past-end[\s\S]*"empty", "404"/);
  });

  test('a bad value exits 2 naming the flag', async () => {
    const overlap = await runCli(['sim', '--port', '0', '--page-overlap', '-1']);
    expect(overlap.code).toBe(2);
    expect(overlap.stderr).toContain('--page-overlap');
    const order = await runCli(['sim', '--port', '0', '--list-order', 'newest']);
    expect(order.code).toBe(2);
    expect(order.stderr).toMatch(/list-order/);
  });

  test('the flags reach the simulator', async () => {
    assertBuilt();
    const args = ['sim', '--port', '0', '--generate', '10', '--list-order', 'modified-desc', '--page-overlap', '1', '--past-end', '404', '--list-shape', 'items-nometa'];
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (c: string) => {
          out += c;
          const m = /listening on (\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`retag sim exited ${code} before listening`)));
      });
      const sim = { url } as Simulator;
      const ids = async (n: number) => (((await getJson(sim, `/get/?page=${n}&page_size=4`)).body as Json)['items'] as Json[]).map((r) => r['object_id']);
      expect(await ids(1)).toEqual(imgs(10, 9, 8, 7));
      expect(await ids(2)).toEqual(imgs(7, 6, 5, 4, 3));
      expect((await getJson(sim, '/get/?page=4&page_size=4')).status).toBe(404);
    } finally {
      const exited = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
