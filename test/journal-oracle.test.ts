/**
 * The journal's readers against an independent oracle of design.md §5, on random well-formed
 * journals (several invocations of a run, ids interleaved): the report replay (failures,
 * conflicts, undo, counts), the fold undo uses, and what a resume reads. The oracle is written
 * from the contract, per id, without the code under test:
 *
 * - an item's outcome is its last outcome line; a pending line not yet followed by one, or an
 *   unsent line with no outcome before it, leaves it unfinished (not counted);
 * - a write may have landed unless the server refused it (forbidden, not_found, http) or it was
 *   never sent (unsent); an `updated` line landed;
 * - undo restores the earliest `before` read (a line with tags read, or a write line);
 * - a resume skips items whose last line (unsent and skipped lines aside) is updated/unchanged,
 *   and recognises a write that may have landed (its last pending line, not settled since).
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foldJournal, JOURNAL_FILE, journalLine, opKey, readDoneItems, replayJournal } from '../src/runner/journal.js';
import type { JournalEntry } from '../src/runner/types.js';
import { seeded } from './helpers/seeded.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-journal-oracle-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const REFUSED = new Set(['forbidden', 'not_found', 'http']);
const AT = '2026-12-01T00:00:00.000Z';

/** One id's lines: invocations, each a standalone outcome or a write (pending → how it ended). */
function script(id: string, random: () => number): JournalEntry[] {
  const lines: JournalEntry[] = [];
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const invocations = 1 + Math.floor(random() * 3);
  for (let n = 0; n < invocations; n++) {
    const read = random() < 0.15 ? null : [`${id}-r${n}`];
    const after = [`${id}-w${n}`];
    const op = { kind: 'merge' as const, add: [`v${Math.floor(random() * 2)}`], remove: [] };
    const base = { id, before: read, after, op, attempts: 1, at: AT };
    const kind = pick(['write', 'write', 'write', 'unchanged', 'conflict', 'not_found', 'skipped', 'older']);
    // A journal written before the write-ahead line: an updated line with no pending line.
    if (kind === 'older') lines.push({ ...base, outcome: 'updated', status: 200 });
    else if (kind === 'unchanged') lines.push({ ...base, after: read, outcome: 'unchanged', attempts: 0 });
    else if (kind === 'conflict') lines.push({ ...base, outcome: 'conflict', attempts: 0, expect: ['e'] });
    else if (kind === 'not_found') lines.push({ ...base, before: null, after: null, outcome: 'failed', reason: 'not_found', attempts: 0 });
    else if (kind === 'skipped') lines.push({ ...base, outcome: 'skipped', attempts: 0 });
    else {
      lines.push({ ...base, outcome: 'pending', attempts: 0 });
      const end = pick(['updated', 'updated', 'lost', 'forbidden', 'http', 'not_found', 'unsent', 'unchanged', 'none']);
      if (end === 'updated') lines.push({ ...base, outcome: 'updated', status: 200 });
      else if (end === 'lost') lines.push({ ...base, outcome: 'failed', reason: 'retries_exhausted' });
      else if (end === 'unsent') lines.push({ ...base, outcome: 'unsent', attempts: 0 });
      else if (end === 'unchanged') lines.push({ ...base, outcome: 'unchanged', attempts: 0 }); // a resume found it applied
      else if (end !== 'none') lines.push({ ...base, outcome: 'failed', reason: end as JournalEntry['reason'], status: end === 'forbidden' ? 403 : end === 'http' ? 422 : 404 });
      if (end === 'none') break; // killed with the write in flight: the run's last invocation
    }
  }
  return lines;
}

interface Expected {
  state: string; // an outcome, or 'unfinished'
  latest?: JournalEntry;
  mayHaveChanged: boolean;
  earliestBefore?: string[] | null;
  done?: string; // opKey
  attempted?: JournalEntry; // the pending line
}

function oracle(lines: JournalEntry[]): Expected {
  const real = lines.filter((e) => e.outcome !== 'skipped');
  const outcomes = real.filter((e) => e.outcome !== 'pending' && e.outcome !== 'unsent');
  const latest = outcomes[outcomes.length - 1];
  const last = real[real.length - 1];
  let state = latest ? latest.outcome : 'unfinished';
  if (last?.outcome === 'pending') state = 'unfinished';
  let mayHaveChanged = false;
  real.forEach((e, i) => {
    if (e.outcome === 'updated') mayHaveChanged = true;
    if (e.outcome !== 'pending') return;
    const next = real[i + 1];
    if (!next) mayHaveChanged = true;
    else if (next.outcome === 'unsent') return;
    else if (next.outcome === 'failed' && REFUSED.has(next.reason!)) return;
    else mayHaveChanged = true;
  });
  const first = real.find((e) => e.outcome !== 'unsent' && (e.before !== null || e.outcome === 'pending' || e.outcome === 'updated'));
  const settled = real.filter((e) => e.outcome !== 'unsent');
  const lastSettled = settled[settled.length - 1];
  const done = lastSettled && (lastSettled.outcome === 'updated' || lastSettled.outcome === 'unchanged') ? opKey(lastSettled.op) : undefined;
  let attempted: JournalEntry | undefined;
  for (const e of real) {
    if (e.outcome === 'pending') attempted = e;
    else if (e.outcome === 'updated' || e.outcome === 'unchanged' || e.outcome === 'unsent' || (e.outcome === 'failed' && REFUSED.has(e.reason!))) attempted = undefined;
  }
  return { state, ...(latest ? { latest } : {}), mayHaveChanged, ...(first ? { earliestBefore: first.before } : {}), ...(done !== undefined ? { done } : {}), ...(attempted ? { attempted } : {}) };
}

function journal(seed: number, ids: number) {
  const random = seeded(seed);
  const scripts = Array.from({ length: ids }, (_, i) => script(`img-${i}`, random));
  // Interleave: invocation after invocation, ids in a random order each time (a resume rereads).
  const out: JournalEntry[] = [];
  const cursor = scripts.map(() => 0);
  for (let left = scripts.reduce((n, s) => n + s.length, 0); left > 0; ) {
    const i = Math.floor(random() * scripts.length);
    if (cursor[i]! >= scripts[i]!.length) continue;
    out.push(scripts[i]![cursor[i]!++]!);
    left--;
  }
  return { scripts, lines: out };
}

describe('journal readers against the oracle of design.md §5', () => {
  test.each([1, 2, 3, 4, 5, 6, 7, 8])('random journals of 400 ids (seed %i)', async (seed) => {
    const { scripts, lines } = journal(seed, 400);
    writeFileSync(join(dir, JOURNAL_FILE), lines.map((e) => journalLine(e)).join(''));
    const expected = new Map(scripts.map((s, i) => [`img-${i}`, oracle(s)]));

    // The report replay.
    const calls = { failed: [] as string[], conflict: [] as string[], updated: [] as string[], undo: new Map<string, string[] | null>() };
    const { counts } = await replayJournal(dir, {
      failed: (e) => calls.failed.push(`${e.id} ${e.reason}`),
      conflict: (e) => calls.conflict.push(e.id),
      updated: (e) => calls.updated.push(`${e.id} ${e.after}`),
      mayHaveChanged: (id, before) => {
        expect(calls.undo.has(id)).toBe(false); // once per id
        calls.undo.set(id, before);
      },
    });
    const want = { failed: [] as string[], conflict: [] as string[], updated: [] as string[], undo: new Map<string, string[] | null>() };
    const wantCounts: Record<string, number> = { updated: 0, unchanged: 0, failed: 0, conflict: 0, skipped: 0, total: 0 };
    for (const [id, x] of expected) {
      if (x.state !== 'unfinished') {
        wantCounts[x.state]!++;
        wantCounts.total!++;
      }
      if (x.state === 'failed') want.failed.push(`${id} ${x.latest!.reason}`);
      if (x.state === 'conflict') want.conflict.push(id);
      if (x.state === 'updated') want.updated.push(`${id} ${x.latest!.after}`);
      if (x.mayHaveChanged) want.undo.set(id, x.earliestBefore!);
    }
    expect(counts).toEqual(wantCounts);
    expect(calls.failed.sort()).toEqual(want.failed.sort());
    expect(calls.conflict.sort()).toEqual(want.conflict.sort());
    expect(calls.updated.sort()).toEqual(want.updated.sort());
    expect(new Map([...calls.undo].sort())).toEqual(new Map([...want.undo].sort()));
    expect(want.undo.size).toBeGreaterThan(50);
    expect(want.failed.length).toBeGreaterThan(20);

    // The fold undo uses: what may have changed, and from which tags.
    const folded = foldJournal(lines);
    for (const [id, x] of expected) {
      const s = folded.get(id);
      if (!s) {
        expect(x.mayHaveChanged).toBe(false);
        continue;
      }
      expect([id, s.mayHaveChanged]).toEqual([id, x.mayHaveChanged]);
      if (x.mayHaveChanged) expect([id, s.earliestBefore]).toEqual([id, x.earliestBefore]);
    }

    // What a resume reads.
    const { done, attempted } = await readDoneItems(dir, { keepBefore: false });
    const wantDone = [...expected].filter(([, x]) => x.done !== undefined).map(([id, x]) => [id, x.done]);
    expect([...done].map(([id, d]) => [id, d.opKey]).sort()).toEqual(wantDone.sort());
    const wantAttempted = [...expected].filter(([, x]) => x.attempted).map(([id, x]) => [id, x.attempted!.after]);
    expect([...attempted].map(([id, a]) => [id, a.after]).sort()).toEqual(wantAttempted.sort());
  });
});
