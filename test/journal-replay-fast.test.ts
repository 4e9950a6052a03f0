/**
 * The journal read back by hand-split 1 MiB chunks (runner/journal.ts journalLineBatches) and the
 * replay that parses in its second pass only the lines a report needs: the same lines, the same
 * entries and the same sink calls, in the journal's order, as a line-by-line read (design.md §5).
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOURNAL_FILE, journalLine, readDoneItems, readJournal, replayJournal } from '../src/runner/journal.js';
import type { JournalEntry } from '../src/runner/types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-replay-fast-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const AT = '2026-12-01T00:00:00.000Z';
const entry = (id: string, outcome: JournalEntry['outcome'], before: string[] | null, after: string[] | null, extra: Partial<JournalEntry> = {}): JournalEntry => ({
  id,
  outcome,
  before,
  after,
  attempts: 1,
  at: AT,
  ...extra,
});
const line = (e: JournalEntry) => journalLine(e).slice(0, -1);
const write = (text: string) => writeFileSync(join(dir, JOURNAL_FILE), text);

async function replayCalls(sinks: 'all' | 'undo' | 'none' = 'all') {
  const calls: string[] = [];
  const result = await replayJournal(
    dir,
    sinks === 'none'
      ? {}
      : sinks === 'undo'
        ? { mayHaveChanged: (id, before) => calls.push(`undo ${id} ${JSON.stringify(before)}`) }
        : {
            failed: (e) => calls.push(`failed ${e.id} ${e.reason}`),
            conflict: (e) => calls.push(`conflict ${e.id}`),
            updated: (e) => calls.push(`updated ${e.id} ${JSON.stringify(e.after)}`),
            mayHaveChanged: (id, before) => calls.push(`undo ${id} ${JSON.stringify(before)}`),
          },
  );
  return { calls, ...result };
}

describe('journal lines, split by hand', () => {
  test('\\n, \\r\\n and a lone \\r end a line; blank and whitespace lines are skipped; a torn last line is counted', async () => {
    const a = entry('a', 'updated', ['a0'], ['a1']);
    const b = entry('b', 'unchanged', ['b0'], ['b0']);
    const c = entry('c', 'pending', null, ['c1']);
    write(`${line(a)}\r\n\n   \n${line(b)}\r${line(c)}\n\t\r\n{"id":"d","outcome":"upd`);
    expect(await readJournal(dir)).toEqual({ entries: [a, b, c], tornLines: 1 });
  });

  test('a last line without its newline is read when it is whole', async () => {
    const a = entry('a', 'updated', ['a0'], ['a1']);
    write(line(a));
    expect(await readJournal(dir)).toEqual({ entries: [a], tornLines: 0 });
  });

  test('a character cut by the 1 MiB read boundary, and a line longer than a read, arrive whole', async () => {
    const prefix = '{"id":"m","outcome":"pending","before":["';
    // The first € starts one byte before the end of the first 1 MiB read.
    const tag = 'a'.repeat(1024 * 1024 - 1 - prefix.length) + '€€€€';
    const long = entry('long', 'failed', ['x'.repeat(2_500_000)], ['y'], { reason: 'network' });
    const m = entry('m', 'pending', [tag], ['m1']);
    write(`${line(m)}\n${line(long)}\n${line(entry('z', 'updated', null, ['z1']))}\n`);
    const { entries, tornLines } = await readJournal(dir);
    expect(tornLines).toBe(0);
    expect(entries.map((e) => e.id)).toEqual(['m', 'long', 'z']);
    expect(entries[0]!.before![0]!.endsWith('a€€€€')).toBe(true);
    expect(entries[0]!.before![0]).toBe(tag);
    expect(entries[1]!.before![0]!.length).toBe(2_500_000);
  });

  test('readDoneItems reads through the same lines', async () => {
    write(`${line(entry('a', 'pending', ['a0'], ['a1']))}\r\n${line(entry('a', 'updated', ['a0'], ['a1']))}\r\n{"id":"b","out`);
    const { done, tornLines } = await readDoneItems(dir, { keepBefore: true });
    expect([...done.entries()]).toEqual([['a', { opKey: '', before: ['a0'] }]]);
    expect(tornLines).toBe(1);
  });
});

describe('replayJournal: only the lines a report needs are parsed again, in order', () => {
  test('undo lines in journal order, a null before among them, each after the deciding line of its line', async () => {
    write(
      [
        line(entry('n1', 'pending', null, ['n1a'])), // --no-read write: undo has nothing to restore
        line(entry('a', 'pending', ['a0'], ['a1'])),
        line(entry('n1', 'updated', null, ['n1a'])),
        line(entry('f', 'failed', ['f0'], ['f1'], { reason: 'retries_exhausted' })), // deciding and earliest before
        line(entry('a', 'updated', ['a0'], ['a1'])),
        line(entry('k', 'conflict', ['k0'], ['k1'])),
        line(entry('n2', 'pending', null, ['n2a'])), // killed: no outcome
        '',
      ].join('\n'),
    );
    const { calls, counts, failuresByReason, tornLines } = await replayCalls();
    expect(calls).toEqual(['undo n1 null', 'undo a ["a0"]', 'updated n1 ["n1a"]', 'failed f retries_exhausted', 'updated a ["a1"]', 'conflict k', 'undo n2 null']);
    expect(counts).toEqual({ updated: 2, unchanged: 0, failed: 1, conflict: 1, skipped: 0, total: 4 });
    expect(failuresByReason).toEqual({ retries_exhausted: 1 });
    expect(tornLines).toBe(0);
  });

  test('ids read off the text only when that is exact: escapes and a repeated id key are parsed', async () => {
    write(
      [
        line(entry('q"uote', 'pending', null, ['x'])),
        line(entry('back\\slash', 'pending', null, ['x'])),
        // Hand-edited lines: a repeated key takes the last value (JSON.parse), spelled plainly or escaped.
        '{"id":"first","outcome":"pending","before":null,"after":["x"],"attempts":0,"id":"second","at":"t"}',
        '{"id":"third","outcome":"pending","before":null,"after":["x"],"attempts":0,"\\u0069d":"fourth","at":"t"}',
        '{"outcome":"pending","id":"fifth","before":null,"after":["x"],"attempts":0,"at":"t"}',
        line(entry('plain', 'pending', null, ['x'])),
        '',
      ].join('\n'),
    );
    const { calls } = await replayCalls('undo');
    expect(calls).toEqual(['undo q"uote null', 'undo back\\slash null', 'undo second null', 'undo fourth null', 'undo fifth null', 'undo plain null']);
  });

  test('torn lines in the middle are skipped alike by both passes (no shift of line numbers)', async () => {
    write(
      [
        '{"id":"x","outco',
        line(entry('a', 'pending', ['a0'], ['a1'])),
        '[1,2]',
        line(entry('a', 'failed', ['a0'], ['a1'], { reason: 'network' })),
        line(entry('b', 'pending', ['b0'], ['b1'])),
        line(entry('b', 'failed', ['b0'], ['b1'], { reason: 'forbidden', status: 403 })),
        '{"id":"y"',
      ].join('\n'),
    );
    const { calls, counts, tornLines } = await replayCalls();
    expect(calls).toEqual(['undo a ["a0"]', 'failed a network', 'failed b forbidden']);
    expect(counts.failed).toBe(2);
    expect(tornLines).toBe(3);
  });

  test('without sinks the counts still come out', async () => {
    write(`${line(entry('a', 'updated', ['a0'], ['a1']))}\n${line(entry('b', 'failed', null, null, { reason: 'not_found' }))}\n{"id"`);
    const { calls, counts, failuresByReason, tornLines } = await replayCalls('none');
    expect(calls).toEqual([]);
    expect(counts).toEqual({ updated: 1, unchanged: 0, failed: 1, conflict: 0, skipped: 0, total: 2 });
    expect(failuresByReason).toEqual({ not_found: 1 });
    expect(tornLines).toBe(1);
  });

  test('more items than the first columns hold: the null-before bits grow with them', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(line(entry(`i${i}`, 'updated', i % 2 ? null : [`b${i}`], [`a${i}`])));
    write(`${lines.join('\n')}\n`);
    const { calls, counts } = await replayCalls('undo');
    expect(counts.updated).toBe(3000);
    expect(calls.length).toBe(3000);
    expect(calls[2999]).toBe('undo i2999 null');
    expect(calls[2998]).toBe('undo i2998 ["b2998"]');
  });
});
