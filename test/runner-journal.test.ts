import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../src/errors.js';
import {
  foldJournal,
  isDone,
  JOURNAL_FILE,
  OUTCOME_FLUSH_MS,
  journalEntries,
  journalLine,
  JournalWriter,
  opKey,
  readJournal,
  readDoneItems,
  readJournalState,
  replayJournal,
  type ItemState,
} from '../src/runner/journal.js';
import type { ItemOp } from '../src/plan/types.js';
import type { JournalEntry } from '../src/runner/types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const AT = '2026-11-28T01:30:00.000Z';
function entry(id: string, outcome: JournalEntry['outcome'], extra: Partial<JournalEntry> = {}): JournalEntry {
  return { id, outcome, before: ['a'], after: ['a', 'b'], attempts: 1, at: AT, ...extra };
}
/** A line with explicit before/after (the fold tests). */
function at(id: string, outcome: JournalEntry['outcome'], before: string[] | null, after: string[] | null, extra: Partial<JournalEntry> = {}): JournalEntry {
  return { id, outcome, before, after, attempts: outcome === 'pending' ? 0 : 1, at: AT, ...extra };
}
function text(): string {
  return readFileSync(join(dir, JOURNAL_FILE), 'utf8');
}
function lines(): unknown[] {
  return text()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}
/** One turn of the event loop: every setImmediate scheduled before this one has run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('JournalWriter', () => {
  test('a pending line is not on disk until flush(), and is as soon as flush() returns', async () => {
    const journal = await JournalWriter.open(dir, { append: false });
    const p1 = entry('x1', 'pending', { attempts: 0, op: { kind: 'set', tags: ['a', 'b'] } });
    const p2 = entry('x2', 'pending', { attempts: 0, before: null });
    journal.pending(p1);
    journal.pending(p2);
    expect(text()).toBe('');
    await nextTurn(); // pending lines wait for flush(), not for the event loop
    expect(text()).toBe('');
    journal.flush();
    expect(text()).toBe(journalLine(p1) + journalLine(p2));
    expect(lines()).toEqual([p1, p2]);
    journal.flush(); // nothing buffered: nothing written
    expect(text()).toBe(journalLine(p1) + journalLine(p2));
    await journal.close();
    expect(text()).toBe(journalLine(p1) + journalLine(p2));
  });

  test('outcome lines reach the disk within OUTCOME_FLUSH_MS, after the pending lines buffered before them', async () => {
    const journal = await JournalWriter.open(dir, { append: false });
    const pending = entry('x1', 'pending', { attempts: 0 });
    const updated = entry('x1', 'updated', { status: 200 });
    const failed = entry('x2', 'failed', { status: 404, error: 'Image not found', reason: 'not_found', before: null, after: null });
    journal.pending(pending);
    journal.record(updated);
    journal.record(failed);
    await sleep(OUTCOME_FLUSH_MS + 20);
    expect(text()).toBe(journalLine(pending) + journalLine(updated) + journalLine(failed));
    const later = entry('x3', 'unchanged');
    journal.record(later);
    await sleep(OUTCOME_FLUSH_MS + 20);
    expect(lines()).toEqual([pending, updated, failed, later]);
    await journal.close();
  });

  test('flushForSend writes only when a pending line is buffered, and then takes the outcome lines along, in order', async () => {
    const journal = await JournalWriter.open(dir, { append: false });
    const done = entry('x1', 'updated', { status: 200 });
    journal.record(done);
    journal.flushForSend(); // no pending line: the outcome line may wait, no system call
    expect(text()).toBe('');
    const pending = entry('x2', 'pending', { attempts: 0 });
    journal.pending(pending);
    journal.flushForSend();
    expect(text()).toBe(journalLine(done) + journalLine(pending));
    journal.record(entry('x2', 'updated', { status: 200 }));
    journal.flushForSend();
    expect(text()).toBe(journalLine(done) + journalLine(pending));
    await journal.close();
    expect(lines()).toEqual([done, pending, entry('x2', 'updated', { status: 200 })]);
  });

  test('close() writes what is still buffered; it is idempotent; writing after it throws', async () => {
    const journal = await JournalWriter.open(dir, { append: false });
    const pending = entry('x1', 'pending', { attempts: 0 });
    const outcome = entry('x2', 'unchanged');
    journal.pending(pending);
    journal.record(outcome);
    await journal.close();
    expect(text()).toBe(journalLine(pending) + journalLine(outcome));
    await journal.close();
    expect(() => journal.pending(entry('x3', 'pending'))).toThrow('JournalWriter: write after close');
    expect(() => journal.record(entry('x3', 'updated'))).toThrow('JournalWriter: write after close');
    // A write path after close: pending() then flush() never gets a line out silently.
    expect(() => {
      journal.pending(entry('x4', 'pending'));
      journal.flush();
    }).toThrow('JournalWriter: write after close');
    await nextTurn();
    expect(text()).toBe(journalLine(pending) + journalLine(outcome));
  });

  test('the journal file is created owner-only (0600)', async () => {
    const journal = await JournalWriter.open(dir, { append: false });
    await journal.close();
    expect(statSync(join(dir, JOURNAL_FILE)).mode & 0o777).toBe(0o600);
  });

  test('lines have a stable key order: id, outcome, reason, before, after, expect, op, attempts, status, error, at', async () => {
    const full: JournalEntry = {
      at: AT,
      error: 'changed since',
      status: 409,
      attempts: 2,
      op: { kind: 'guarded', expect: ['e'], write: ['w'] },
      expect: ['e'],
      after: ['w'],
      before: ['c'],
      reason: 'http',
      outcome: 'failed',
      id: 'x',
    };
    expect(Object.keys(JSON.parse(journalLine(full)) as object)).toEqual([
      'id',
      'outcome',
      'reason',
      'before',
      'after',
      'expect',
      'op',
      'attempts',
      'status',
      'error',
      'at',
    ]);
    const minimal: JournalEntry = { at: AT, attempts: 0, after: null, before: null, outcome: 'pending', id: 'y' };
    expect(journalLine(minimal)).toBe(`{"id":"y","outcome":"pending","before":null,"after":null,"attempts":0,"at":"${AT}"}\n`);

    const journal = await JournalWriter.open(dir, { append: false });
    journal.record(full);
    await journal.close();
    expect(text()).toBe(journalLine(full));
  });

  test('a new run refuses an existing journal (and leaves it alone); append continues it', async () => {
    const first = entry('x1', 'updated');
    const j1 = await JournalWriter.open(dir, { append: false });
    j1.record(first);
    await j1.close();
    const refused = JournalWriter.open(dir, { append: false });
    await expect(refused).rejects.toBeInstanceOf(UsageError);
    await expect(refused).rejects.toThrow(`${join(dir, JOURNAL_FILE)} already exists; continue that run with --resume ${dir}`);
    expect(text()).toBe(journalLine(first));

    const second = entry('x2', 'unchanged');
    const j2 = await JournalWriter.open(dir, { append: true });
    j2.record(second);
    await j2.close();
    // The journal ended with a newline: nothing is inserted between the runs' lines.
    expect(text()).toBe(journalLine(first) + journalLine(second));
    expect((await readJournal(dir)).entries).toEqual([first, second]);
  });

  test('append creates a missing journal', async () => {
    const journal = await JournalWriter.open(dir, { append: true });
    journal.record(entry('x', 'updated'));
    await journal.close();
    expect(text()).toBe(journalLine(entry('x', 'updated')));
  });

  test('secrets are redacted from every line', async () => {
    const journal = await JournalWriter.open(dir, { append: false, redact: ['sk-secret-1'] });
    journal.pending(entry('x', 'pending', { after: ['tag-sk-secret-1'] }));
    journal.record(entry('x', 'failed', { error: 'bad key sk-secret-1 ("sk-secret-1")' }));
    await journal.close();
    expect(text()).not.toContain('sk-secret-1');
    const { entries } = await readJournal(dir);
    expect(entries.map((e) => [e.after, e.error])).toEqual([
      [['tag-[REDACTED]'], undefined],
      [['a', 'b'], 'bad key [REDACTED] ("[REDACTED]")'],
    ]);
  });

  const devFull = existsSync('/dev/full') ? test : test.skip;
  devFull('a failing write (disk full) throws from flush(), sticks, and reaches onError from a deferred flush', async () => {
    symlinkSync('/dev/full', join(dir, JOURNAL_FILE)); // every write: ENOSPC
    const errors: Error[] = [];
    const journal = await JournalWriter.open(dir, { append: true, onError: (e) => errors.push(e) });
    journal.pending(entry('x1', 'pending'));
    let first: unknown;
    try {
      journal.flush();
    } catch (error) {
      first = error;
    }
    expect((first as NodeJS.ErrnoException).code).toBe('ENOSPC');
    // Once failed, every later flush throws (the engine then sends nothing more).
    expect(() => journal.flush()).toThrow(first as Error);
    expect(() => journal.flushForSend()).toThrow(first as Error);
    expect(errors).toEqual([]);
    journal.record(entry('x2', 'updated'));
    await sleep(OUTCOME_FLUSH_MS + 20);
    expect(errors).toEqual([first]);
    await expect(journal.close()).rejects.toThrow();
  });
});

describe('reading the journal', () => {
  test('a missing journal reads as empty', async () => {
    expect(await readJournal(dir)).toEqual({ entries: [], tornLines: 0 });
    const state = await readJournalState(dir);
    expect([...state.items]).toEqual([]);
    expect(state.tornLines).toBe(0);
    expect(await readJournal(join(dir, 'no-such-run'))).toEqual({ entries: [], tornLines: 0 });
  });

  test('a torn last line is tolerated, and appending after it starts a fresh line', async () => {
    const good = entry('x1', 'updated');
    writeFileSync(join(dir, JOURNAL_FILE), `${journalLine(good)}{"id":"x2","outco`);
    expect(await readJournal(dir)).toEqual({ entries: [good], tornLines: 1 });

    const next = entry('x2', 'updated');
    const journal = await JournalWriter.open(dir, { append: true });
    journal.record(next);
    await journal.close();
    expect(text()).toBe(`${journalLine(good)}{"id":"x2","outco\n${journalLine(next)}`);
    expect(await readJournal(dir)).toEqual({ entries: [good, next], tornLines: 1 });
  });

  test('JSON lines that are not entries count as torn; blank lines are ignored; CRLF is accepted', async () => {
    const y = entry('y', 'failed');
    writeFileSync(
      join(dir, JOURNAL_FILE),
      [
        '',
        '[1]',
        '{"id":"x"}',
        '{"id":"x","outcome":"done"}',
        '{"id":5,"outcome":"updated"}',
        'null',
        '"text"',
        `${JSON.stringify(y)}\r`,
        '   ',
        '',
      ].join('\n'),
    );
    expect(await readJournal(dir)).toEqual({ entries: [y], tornLines: 6 });
    const torn = { lines: 0 };
    const streamed: JournalEntry[] = [];
    for await (const e of journalEntries(dir, torn)) streamed.push(e);
    expect(streamed).toEqual([y]);
    expect(torn.lines).toBe(6);
  });

  test('readJournalState folds the streamed lines like foldJournal, and counts torn lines', async () => {
    const all = [at('a', 'pending', ['a0'], ['a1']), at('a', 'updated', ['a0'], ['a1']), at('b', 'unchanged', ['b0'], ['b0'])];
    writeFileSync(join(dir, JOURNAL_FILE), `${all.map(journalLine).join('')}{"id":"c","outcome":"pen`);
    const state = await readJournalState(dir);
    expect(state.tornLines).toBe(1);
    expect([...state.items]).toEqual([...foldJournal(all)]);
    expect([...state.items.keys()]).toEqual(['a', 'b']);
  });
});

describe('foldJournal', () => {
  test('earliest before across resumes; written = last after of pending/updated; mayHaveChanged only when a write was sent', () => {
    const aDone = at('a', 'updated', ['a1'], ['a2']);
    const cFailed = at('c', 'failed', ['c0'], ['c1'], { reason: 'retries_exhausted', status: 503 });
    const dUnchanged = at('d', 'unchanged', ['d0'], ['d0']);
    const eNotFound = at('e', 'failed', null, null, { reason: 'not_found', attempts: 0 });
    const fDone = at('f', 'updated', ['f0'], ['f1']);
    const gDone = at('g', 'updated', ['g1'], ['g2']);
    const items = foldJournal([
      // a: written, then (resume, its rule changed) unchanged-checked and written again.
      at('a', 'pending', ['a0'], ['a1']),
      at('a', 'updated', ['a0'], ['a1']),
      at('b', 'pending', ['b0'], ['b1']), // b: killed in flight
      at('c', 'pending', ['c0'], ['c1']),
      cFailed, // c: failed after its write was sent (a lost reply may hide an applied write)
      dUnchanged, // d: nothing sent
      eNotFound, // e: never read
      at('a', 'unchanged', ['a1'], ['a1']),
      at('a', 'pending', ['a1'], ['a2']),
      aDone,
      at('f', 'failed', null, null, { reason: 'not_found', attempts: 0 }), // f: not found, then found on resume
      at('f', 'pending', ['f0'], ['f1']),
      fDone,
      at('g', 'pending', null, ['g1']), // g: written without a read (--no-read), then again after a read
      at('g', 'updated', null, ['g1']),
      at('g', 'pending', ['g1'], ['g2']),
      gDone,
    ]);
    expect([...items.keys()]).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    const expected: ItemState[] = [
      { id: 'a', state: 'updated', outcome: aDone, earliestBefore: ['a0'], written: ['a2'], mayHaveChanged: true },
      { id: 'b', state: 'pending', earliestBefore: ['b0'], written: ['b1'], mayHaveChanged: true },
      { id: 'c', state: 'failed', outcome: cFailed, earliestBefore: ['c0'], written: ['c1'], mayHaveChanged: true },
      { id: 'd', state: 'unchanged', outcome: dUnchanged, earliestBefore: ['d0'], mayHaveChanged: false },
      { id: 'e', state: 'failed', outcome: eNotFound, earliestBefore: undefined, mayHaveChanged: false },
      { id: 'f', state: 'updated', outcome: fDone, earliestBefore: ['f0'], written: ['f1'], mayHaveChanged: true },
      { id: 'g', state: 'updated', outcome: gDone, earliestBefore: null, written: ['g2'], mayHaveChanged: true },
    ];
    for (const want of expected) {
      const got = items.get(want.id)!;
      expect(got).toEqual(want);
      // toEqual ignores undefined properties; the absent ones must really be absent.
      if (!('outcome' in want)) expect(got.outcome).toBeUndefined();
      if (!('written' in want)) expect(got.written).toBeUndefined();
    }
  });

  test('a pending line after an outcome makes the item pending again, keeping that outcome', () => {
    const failed = at('x', 'failed', ['x0'], ['x1'], { reason: 'http', status: 500 });
    const items = foldJournal([failed, at('x', 'pending', ['x0'], ['x1'])]);
    expect(items.get('x')).toEqual({ id: 'x', state: 'pending', outcome: failed, earliestBefore: ['x0'], written: ['x1'], mayHaveChanged: true });
  });

  test('a skipped line never hides what the earlier lines say', () => {
    const aDone = at('a', 'updated', ['a0'], ['a1']);
    const items = foldJournal([
      at('a', 'pending', ['a0'], ['a1']),
      aDone,
      at('a', 'skipped', ['a1'], ['a1']),
      at('b', 'pending', ['b0'], ['b1']),
      at('b', 'skipped', ['b1'], ['b1']),
      at('c', 'skipped', ['c0'], ['c0']),
    ]);
    expect(items.get('a')).toEqual({ id: 'a', state: 'updated', outcome: aDone, earliestBefore: ['a0'], written: ['a1'], mayHaveChanged: true });
    expect(items.get('b')).toEqual({ id: 'b', state: 'pending', earliestBefore: ['b0'], written: ['b1'], mayHaveChanged: true });
    expect(items.get('b')!.outcome).toBeUndefined();
    expect(items.get('c')).toEqual({ id: 'c', state: 'skipped', earliestBefore: undefined, mayHaveChanged: false });
    expect(items.get('c')!.outcome).toBeUndefined();
    expect(isDone(items.get('a'))).toBe(true);
  });

  test('isDone: only when the latest line is updated or unchanged', () => {
    const items = foldJournal([
      at('updated', 'pending', ['0'], ['1']),
      at('updated', 'updated', ['0'], ['1']),
      at('unchanged', 'unchanged', ['0'], ['0']),
      at('redo', 'updated', ['0'], ['1']),
      at('redo', 'pending', ['1'], ['2']), // sent again on a resume, no outcome yet
      at('failed', 'failed', ['0'], ['1'], { reason: 'forbidden', status: 403 }),
      at('fixed', 'failed', ['0'], ['1'], { reason: 'http', status: 500 }),
      at('fixed', 'unchanged', ['1'], ['1']),
      at('broke', 'unchanged', ['0'], ['0']),
      at('broke', 'failed', null, null, { reason: 'not_found' }),
      at('conflict', 'conflict', ['0'], ['1']),
      at('pending', 'pending', ['0'], ['1']),
      at('skipped', 'skipped', ['0'], ['0']),
    ]);
    const done = [...items.values()].filter((s) => isDone(s)).map((s) => s.id);
    expect(done).toEqual(['updated', 'unchanged', 'fixed']);
    expect(isDone(undefined)).toBe(false);
  });

  test('opKey: the same operation gives the same key, another a different one', () => {
    expect(opKey(undefined)).toBe('');
    expect(opKey({ kind: 'set', tags: ['a', 'b'] })).toBe(opKey({ kind: 'set', tags: ['a', 'b'] }));
    expect(opKey({ kind: 'set', tags: ['a', 'b'] })).not.toBe(opKey({ kind: 'set', tags: ['b', 'a'] }));
    expect(opKey({ kind: 'merge', add: ['a'], remove: [] })).not.toBe(opKey({ kind: 'merge', add: [], remove: ['a'] }));
    // What resume compares: the op as the journal line gives it back.
    const op: ItemOp = { kind: 'guarded', expect: null, write: ['w'] };
    const read = JSON.parse(journalLine(entry('x', 'updated', { op }))) as JournalEntry;
    expect(opKey(read.op)).toBe(opKey(op));
  });
});

describe('streaming reads: replayJournal and readDoneItems agree with the fold', () => {
  const op: ItemOp = { kind: 'merge', add: ['b'], remove: [] };
  const journal = () => [
    at('a', 'pending', ['a0'], ['a1'], { op }),
    at('a', 'updated', ['a0'], ['a1'], { op }),
    at('u', 'pending', ['u0'], ['u1'], { op }),
    at('u', 'unsent', ['u0'], ['u1'], { op, attempts: 0 }), // stopped before the write left
    at('l', 'pending', ['l0'], ['l1'], { op }),
    at('l', 'failed', ['l0'], ['l1'], { op, reason: 'retries_exhausted' }), // reply lost: may have landed
    at('r', 'pending', ['r0'], ['r1'], { op }),
    at('r', 'failed', ['r0'], ['r1'], { op, reason: 'forbidden', status: 403 }), // refused: did not land
    at('c', 'unchanged', ['c0'], ['c0'], { op }),
  ];
  async function write(entries: JournalEntry[]): Promise<void> {
    writeFileSync(join(dir, JOURNAL_FILE), entries.map((e) => journalLine(e)).join(''));
  }

  test('an unsent write is not something undo restores; a lost reply is; a refusal is not', async () => {
    await write(journal());
    const undo: Array<[string, string[] | null]> = [];
    const failed: string[] = [];
    const { counts, failuresByReason } = await replayJournal(dir, {
      mayHaveChanged: (id, before) => undo.push([id, before]),
      failed: (e) => failed.push(e.id),
    });
    expect(undo).toEqual([
      ['a', ['a0']],
      ['l', ['l0']],
    ]);
    expect(failed).toEqual(['l', 'r']);
    expect(counts).toEqual({ updated: 1, unchanged: 1, failed: 2, conflict: 0, skipped: 0, total: 4 });
    expect(failuresByReason).toEqual({ retries_exhausted: 1, forbidden: 1 });
    // The fold used by undo says the same.
    const folded = foldJournal(journal());
    expect([...folded.values()].filter((s) => s.mayHaveChanged).map((s) => s.id)).toEqual(['a', 'l']);
  });

  test('readDoneItems: done items with their operation; attempted writes that may have landed', async () => {
    await write(journal());
    const { done, attempted } = await readDoneItems(dir, { keepBefore: true });
    expect([...done.keys()]).toEqual(['a', 'c']);
    expect(done.get('a')).toEqual({ opKey: opKey(op), before: ['a0'] });
    // l's reply was lost (it may hold l1 now); u was never sent; r was refused.
    expect([...attempted.entries()]).toEqual([['l', { opKey: opKey(op), before: ['l0'], after: ['l1'] }]]);
  });
});
