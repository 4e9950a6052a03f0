/**
 * replayJournal with the run's own numbering of its ids (issue 10: no second map of a million
 * journaled ids): the reports must be exactly those of the plain replay, whether an id is
 * numbered, unnumbered (a library-wide image, an earlier invocation's id), or numbered but never
 * journaled; and past the first 1,024 unnumbered ids (the columns grow).
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOURNAL_FILE, journalLine, replayJournal } from '../src/runner/journal.js';
import type { JournalEntry } from '../src/runner/types.js';
import { seeded } from './helpers/seeded.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-journal-index-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const OUTCOMES: Array<[JournalEntry['outcome'], Partial<JournalEntry>]> = [
  ['pending', { attempts: 0 }],
  ['updated', { status: 200 }],
  ['unchanged', {}],
  ['failed', { reason: 'retries_exhausted' }],
  ['failed', { reason: 'forbidden', status: 403 }],
  ['failed', { reason: 'not_found', attempts: 0 }],
  ['conflict', {}],
  ['unsent', { attempts: 0 }],
  ['skipped', {}],
];

function journal(random: () => number, ids: string[], lines: number): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (let i = 0; i < lines; i++) {
    const id = ids[Math.floor(random() * ids.length)]!;
    const [outcome, extra] = OUTCOMES[Math.floor(random() * OUTCOMES.length)]!;
    const before = random() < 0.2 ? null : [`${id}-b${i}`];
    out.push({ id, outcome, before, after: [`${id}-a${i}`], attempts: 1, at: '2026-12-01T00:00:00.000Z', ...extra });
  }
  return out;
}

async function replay(known?: { idCount: number; indexOf(id: string): number | undefined }) {
  const calls: string[] = [];
  const result = await replayJournal(
    dir,
    {
      failed: (e) => calls.push(`failed ${e.id} ${e.after}`),
      conflict: (e) => calls.push(`conflict ${e.id} ${e.after}`),
      updated: (e) => calls.push(`updated ${e.id} ${e.after}`),
      mayHaveChanged: (id, before) => calls.push(`undo ${id} ${JSON.stringify(before)}`),
    },
    known,
  );
  return { calls, ...result };
}

describe('replayJournal with a known numbering of ids', () => {
  test.each([1, 2, 3, 4, 5, 6])('gives the reports of the plain replay (seed %i)', async (seed) => {
    const random = seeded(seed);
    const numbered = Array.from({ length: 300 }, (_, i) => `img-${i}`);
    // 1,500 ids the numbering does not know: the columns must grow past their first 1,024.
    const others = Array.from({ length: 1500 }, (_, i) => `other-${i}`);
    const entries = journal(random, [...numbered.slice(0, 250), ...others], 6000);
    writeFileSync(join(dir, JOURNAL_FILE), entries.map((e) => journalLine(e)).join(''));
    const index = new Map(numbered.map((id, k) => [id, k]));
    const plain = await replay();
    const indexed = await replay({ idCount: numbered.length, indexOf: (id) => index.get(id) });
    expect(plain.calls.length).toBeGreaterThan(100);
    expect(indexed.calls).toEqual(plain.calls);
    expect(indexed.counts).toEqual(plain.counts);
    expect(indexed.failuresByReason).toEqual(plain.failuresByReason);
  });

  test('a numbered id that was never journaled is not counted and reaches no report', async () => {
    writeFileSync(join(dir, JOURNAL_FILE), journalLine({ id: 'b', outcome: 'updated', before: ['x'], after: ['y'], attempts: 1, at: '2026-12-01T00:00:00.000Z' }));
    const index = new Map([['a', 0], ['b', 1], ['c', 2]]);
    const { calls, counts } = await replay({ idCount: 3, indexOf: (id) => index.get(id) });
    expect(calls).toEqual(['updated b y', 'undo b ["x"]']);
    expect(counts.total).toBe(1);
    expect(counts.updated).toBe(1);
  });
});
