import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../src/errors.js';
import { validateRuleObject } from '../src/manifest/validate-rule.js';
import { applyRule } from '../src/plan/compose.js';
import { applyOp } from '../src/plan/resolve.js';
import type { ComposedOp, Decision, GuardedOp, ItemOp, Rule } from '../src/plan/types.js';
import {
  CONFLICTS_FILE,
  createRunDir,
  describeFailure,
  ensureFreshRunDir,
  FAILURES_FILE,
  openExistingRunDir,
  PLAN_FILE,
  PlanWriter,
  REJECTS_FILE,
  runTimestamp,
  SUMMARY_FILE,
  summarizeItems,
  UNDO_FILE,
  writeNdjson,
  writeRejects,
  writeRunFiles,
  writeSummary,
  type PlanHeader,
  type RunSummary,
} from '../src/report/run-dir.js';
import { foldJournal, isDone, JOURNAL_FILE, JournalWriter, readJournalState } from '../src/runner/journal.js';
import type { JournalEntry } from '../src/runner/types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-report-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const AT = '2026-11-28T01:30:00.000Z';
function entry(id: string, outcome: JournalEntry['outcome'], extra: Partial<JournalEntry> = {}): JournalEntry {
  return { id, outcome, before: ['a'], after: ['a', 'b'], attempts: outcome === 'pending' ? 0 : 1, at: AT, ...extra };
}
function lines(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}
function mode(path: string): number {
  return statSync(path).mode & 0o777;
}
/** The rules of a file composed in file order, as `retag run` would (one id). */
function compose(rules: Rule[]): ComposedOp {
  return rules.reduce<ComposedOp | undefined>((op, rule) => applyRule(op, rule), undefined)!;
}
/** A write was sent for the item (pending line), then it failed. */
function failedWrite(id: string, op: ItemOp, extra: Partial<JournalEntry> = {}): JournalEntry[] {
  const base = { before: ['b0'], after: ['b1'], op };
  return [entry(id, 'pending', base), entry(id, 'failed', { ...base, reason: 'http', status: 500, error: 'boom', ...extra })];
}
const RUN_FILES = [CONFLICTS_FILE, FAILURES_FILE, UNDO_FILE];

describe('run directories', () => {
  test('runTimestamp is UTC, second precision, without colons', () => {
    expect(runTimestamp(new Date(Date.UTC(2026, 10, 28, 1, 30, 0, 789)))).toBe('2026-11-28T01-30-00Z');
  });

  test('createRunDir defaults to retag-runs/<timestamp>/ and never reuses a used default', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const now = new Date(Date.UTC(2026, 10, 28, 1, 30, 0));
      const first = await createRunDir(undefined, now);
      expect(first).toBe(join('retag-runs', '2026-11-28T01-30-00Z'));
      expect(existsSync(first)).toBe(true);
      expect(mode(first)).toBe(0o700);
      writeFileSync(join(first, JOURNAL_FILE), '');
      const second = await createRunDir(undefined, now);
      expect(second).toBe(join('retag-runs', '2026-11-28T01-30-00Z-2'));
      expect(mode(second)).toBe(0o700);
    } finally {
      process.chdir(cwd);
    }
  });

  test('an explicit --out is created recursively, mode 0700; an empty existing one is reused and made 0700', async () => {
    const out = join(dir, 'a', 'b', 'run');
    expect(await createRunDir(out)).toBe(out);
    expect(existsSync(out)).toBe(true);
    expect(mode(out)).toBe(0o700);
    expect(await ensureFreshRunDir(out)).toBe(out);

    const existing = join(dir, 'existing');
    mkdirSync(existing, { mode: 0o755 });
    chmodSync(existing, 0o755);
    expect(await ensureFreshRunDir(existing)).toBe(existing);
    expect(mode(existing)).toBe(0o700);
  });

  test('a non-empty directory is refused unless resuming', async () => {
    writeFileSync(join(dir, JOURNAL_FILE), '');
    await expect(createRunDir(dir)).rejects.toBeInstanceOf(UsageError);
    await expect(ensureFreshRunDir(dir)).rejects.toThrow(
      `run directory ${dir} already exists and is not empty; choose another --out, or continue that run with --resume ${dir}`,
    );
    await expect(openExistingRunDir(dir)).resolves.toBe(dir);
  });

  test('openExistingRunDir refuses a missing directory or a file', async () => {
    await expect(openExistingRunDir(join(dir, 'nope'))).rejects.toThrow(`run directory ${join(dir, 'nope')} does not exist`);
    writeFileSync(join(dir, 'file'), 'x');
    await expect(openExistingRunDir(join(dir, 'file'))).rejects.toBeInstanceOf(UsageError);
    await expect(createRunDir(join(dir, 'file'))).rejects.toBeInstanceOf(UsageError);
  });

  test('the files of a run directory are 0600, even when they replace a readable one', async () => {
    const summaryPath = join(dir, SUMMARY_FILE);
    writeFileSync(summaryPath, '{}\n', { mode: 0o644 });
    chmodSync(summaryPath, 0o644);
    await writeSummary(dir, SUMMARY);
    await writeNdjson(join(dir, 'x.ndjson'), [{ a: 1 }]);
    await writeRejects(dir, []);
    await writeRunFiles(dir, []);
    PlanWriter.open(dir, HEADER).close();
    const files = readdirSync(dir).sort();
    expect(files).toEqual([CONFLICTS_FILE, FAILURES_FILE, PLAN_FILE, REJECTS_FILE, SUMMARY_FILE, UNDO_FILE, 'x.ndjson'].sort());
    expect(files.map((f) => [f, mode(join(dir, f))])).toEqual(files.map((f) => [f, 0o600]));
  });
});

const SUMMARY: RunSummary = {
  command: 'run',
  manifest: 'm.csv',
  counts: { updated: 1, unchanged: 0, failed: 0, conflict: 0, skipped: 0, total: 1 },
  failuresByReason: {},
  requests: { total: 2, reads: 1, writes: 1, retries: 0, status429: 0 },
  startedAt: AT,
  endedAt: AT,
  durationMs: 0,
  exitCode: 0,
  runDir: 'x',
};
const HEADER: PlanHeader = { retag_plan: 1, created: AT, manifest: 'm.csv', manifest_sha256: 'ab'.repeat(32) };

describe('summary.json', () => {
  test('is written atomically: whole content, no temp file left behind', async () => {
    await writeSummary(dir, { ...SUMMARY, exitCode: 1 });
    await writeSummary(dir, SUMMARY);
    expect(readFileSync(join(dir, SUMMARY_FILE), 'utf8')).toBe(`${JSON.stringify(SUMMARY, null, 2)}\n`);
    expect(readdirSync(dir)).toEqual([SUMMARY_FILE]);
  });

  test('a failed write leaves the previous file intact and no temp file', async () => {
    await writeSummary(dir, SUMMARY);
    const circular: Record<string, unknown> = { ...SUMMARY };
    circular.self = circular;
    await expect(writeSummary(dir, circular as unknown as RunSummary)).rejects.toThrow(TypeError);
    expect(JSON.parse(readFileSync(join(dir, SUMMARY_FILE), 'utf8'))).toEqual(SUMMARY);
    expect(readdirSync(dir)).toEqual([SUMMARY_FILE]);
  });

  test('redacts secrets', async () => {
    await writeSummary(dir, { ...SUMMARY, aborted: 'key sk-1234 rejected' }, { redact: ['sk-1234'] });
    const written = readFileSync(join(dir, SUMMARY_FILE), 'utf8');
    expect((JSON.parse(written) as RunSummary).aborted).toBe('key [REDACTED] rejected');
    expect(written).not.toContain('sk-1234');
  });
});

describe('summarizeItems', () => {
  test('counts each item once by its latest outcome, failures per reason; items still pending are not counted', () => {
    const items = foldJournal([
      entry('a', 'pending'),
      entry('a', 'updated'),
      entry('b', 'unchanged'),
      entry('c', 'failed', { reason: 'not_found', before: null, after: null }),
      entry('d', 'failed', { reason: 'not_found', before: null, after: null }),
      entry('e', 'pending'),
      entry('e', 'failed', { reason: 'retries_exhausted' }),
      entry('f', 'failed'),
      entry('g', 'conflict'),
      entry('h', 'pending'), // in flight when the run was killed
      entry('i', 'failed', { reason: 'http' }),
      entry('i', 'pending'), // failed, then sent again on a resume: no outcome yet
      entry('j', 'failed', { reason: 'http' }),
      entry('j', 'unchanged'), // failed, then done on a resume
      entry('k', 'updated'),
      entry('k', 'skipped'),
    ]);
    expect(summarizeItems(items.values())).toEqual({
      counts: { updated: 2, unchanged: 2, failed: 4, conflict: 1, skipped: 0, total: 9 },
      failuresByReason: { not_found: 2, retries_exhausted: 1, unknown: 1 },
    });
  });
});

describe('failures.ndjson', () => {
  const ops: Array<[string, ComposedOp]> = [
    ['set', { kind: 'set', tags: ['x', 'y'] }],
    ['clear', { kind: 'set', tags: [] }],
    ['add+remove', { kind: 'merge', add: ['new'], remove: ['old', 'stale'] }],
    ['add-only', { kind: 'merge', add: ['new'], remove: [] }],
    ['remove-only', { kind: 'merge', add: [], remove: ['old'] }],
    ['no-op-merge', { kind: 'merge', add: [], remove: [] }],
  ];
  const befores = [[], ['a'], ['old', 'a', 'new'], ['stale', 'x', 'b', 'old']];

  test('each line is a valid rule whose effect equals the original op, plus _error', async () => {
    const journal = ops.flatMap(([id, op], i) => failedWrite(id, op, { status: 404 + i, error: 'boom', attempts: i + 1 }));
    const counts = await writeRunFiles(dir, foldJournal(journal).values());
    expect(counts.failures).toBe(ops.length);
    const written = lines(join(dir, FAILURES_FILE)) as Array<Rule & { id: string; _error: string }>;
    expect(written.map((r) => r.id)).toEqual(ops.map(([id]) => id));
    written.forEach((line, i) => {
      // What `retag run failures.ndjson` does with the line: validate it (annotations dropped)…
      const validated = validateRuleObject(line, { file: FAILURES_FILE, line: i + 1 });
      const { _error, ...rule } = line;
      expect(validated).toEqual({ ...rule, source: { file: FAILURES_FILE, line: i + 1 } });
      expect(typeof _error).toBe('string');
      // …and compose it: the same effect as the operation that failed, whatever the image holds.
      const op = ops[i]![1];
      const recomposed = applyRule(undefined, rule);
      for (const before of befores) expect(applyOp(before, recomposed)).toEqual(applyOp(before, op));
    });
    expect(written[0]).toEqual({ id: 'set', set: ['x', 'y'], _error: '404 boom after 1 attempt' });
    expect(written[1]).toEqual({ id: 'clear', clear: true, _error: '405 boom after 2 attempts' });
    expect(written[2]).toEqual({ id: 'add+remove', add: ['new'], remove: ['old', 'stale'], _error: '406 boom after 3 attempts' });
    expect(written[5]).toEqual({ id: 'no-op-merge', add: [], _error: '409 boom after 6 attempts' });
  });

  test('a seq operation gives one line per step, same id, that compose back to the same effect', async () => {
    // add a, then rename a → b: the rename touches the added tag, so the two do not fold.
    const op = compose([{ add: ['a'] }, { rename: { a: 'b' } }]);
    expect(op.kind).toBe('seq');
    const journal = [...failedWrite('s', op, { error: 'boom', status: 500 }), ...failedWrite('t', { kind: 'set', tags: ['z'] }, { status: 500 })];
    const counts = await writeRunFiles(dir, foldJournal(journal).values());
    expect(counts.failures).toBe(2); // items, not lines
    const written = lines(join(dir, FAILURES_FILE)) as Array<Rule & { id: string; _error: string }>;
    expect(written).toEqual([
      { id: 's', add: ['a'], _error: '500 boom after 1 attempt' },
      { id: 's', rename: { a: 'b' }, _error: '500 boom after 1 attempt' },
      { id: 't', set: ['z'], _error: '500 boom after 1 attempt' },
    ]);
    const recomposed = compose(written.filter((r) => r.id === 's').map(({ _error, ...rule }) => rule));
    for (const before of [[], ['a'], ['b'], ['a', 'b'], ['x', 'a', 'y']]) expect(applyOp(before, recomposed)).toEqual(applyOp(before, op));
  });

  test('a guarded operation (apply/undo) gives a delta rule: add what it adds, remove what it takes away', async () => {
    const guarded: GuardedOp = { kind: 'guarded', expect: ['a', 'old', 'keep'], write: ['keep', 'new', 'a'] };
    const blind: GuardedOp = { kind: 'guarded', expect: null, write: ['w1', 'w2'] };
    const same: GuardedOp = { kind: 'guarded', expect: ['a', 'b'], write: ['b', 'a'] };
    const journal = [...failedWrite('g', guarded), ...failedWrite('blind', blind), ...failedWrite('same', same)];
    await writeRunFiles(dir, foldJournal(journal).values());
    const written = lines(join(dir, FAILURES_FILE)) as Array<Rule & { id: string; _error: string }>;
    const error = '500 boom after 1 attempt';
    expect(written).toEqual([
      { id: 'g', add: ['new'], remove: ['old'], _error: error },
      { id: 'blind', add: ['w1', 'w2'], _error: error },
      { id: 'same', add: [], _error: error },
    ]);
    written.forEach((line, i) => {
      const { _error, ...rule } = line;
      expect(validateRuleObject(line, { file: FAILURES_FILE, line: i + 1 })).toEqual({ ...rule, source: { file: FAILURES_FILE, line: i + 1 } });
    });
    const { _error, ...delta } = written[0]!;
    // On the expected tags it gives the write; on top of a later edit it keeps the edit.
    expect(new Set(applyOp(['a', 'old', 'keep'], applyRule(undefined, delta)))).toEqual(new Set(['keep', 'new', 'a']));
    expect(applyOp(['a', 'old', 'keep', 'later'], applyRule(undefined, delta))).toEqual(['a', 'keep', 'later', 'new']);
  });

  test('only items whose latest outcome is failed are listed, once each, in first-seen order', async () => {
    const set = (tags: string[]): ComposedOp => ({ kind: 'set', tags });
    const journal = [
      ...failedWrite('fixed', set(['f'])),
      ...failedWrite('later', set(['l'])),
      entry('fixed', 'pending', { op: set(['f']) }),
      entry('fixed', 'updated', { op: set(['f']) }), // failed, then done on a resume
      entry('broke', 'updated', { op: set(['b']) }),
      entry('broke', 'failed', { op: set(['b']), reason: 'not_found', before: null, after: null, attempts: 0 }),
      ...failedWrite('inflight', set(['i'])),
      entry('inflight', 'pending', { op: set(['i']) }), // sent again, no outcome yet: not a failure now
      entry('notfound', 'failed', { op: set(['n']), reason: 'not_found', before: null, after: null, attempts: 0 }),
    ];
    const counts = await writeRunFiles(dir, foldJournal(journal).values());
    expect(counts.failures).toBe(3);
    expect(lines(join(dir, FAILURES_FILE))).toEqual([
      { id: 'later', set: ['l'], _error: '500 boom after 1 attempt' },
      { id: 'broke', set: ['b'], _error: 'not_found: id not in the library' },
      { id: 'notfound', set: ['n'], _error: 'not_found: id not in the library' },
    ]);
  });

  test('a failed line without an operation (older journals) gives the list it would have written', async () => {
    await writeRunFiles(dir, foldJournal([entry('x', 'failed', { after: ['p', 'q'], reason: 'http', status: 500, error: 'boom' })]).values());
    expect(lines(join(dir, FAILURES_FILE))).toEqual([{ id: 'x', set: ['p', 'q'], _error: '500 boom after 1 attempt' }]);
  });

  test('_error texts', () => {
    expect(describeFailure(entry('x', 'failed', { status: 404, error: 'Image not found', attempts: 1 }))).toBe(
      '404 Image not found after 1 attempt',
    );
    expect(describeFailure(entry('x', 'failed', { reason: 'not_found', attempts: 0 }))).toBe('not_found: id not in the library');
    expect(describeFailure(entry('x', 'failed', { reason: 'network', error: 'ECONNRESET', attempts: 6 }))).toBe(
      'network: ECONNRESET after 6 attempts',
    );
    expect(describeFailure(entry('x', 'failed', { reason: 'forbidden', status: 403, attempts: 1 }))).toBe(
      '403 not allowed to update this image after 1 attempt',
    );
    expect(describeFailure(entry('x', 'failed', { attempts: 0 }))).toBe('failed: failed');
  });

  test('the run files are written even when empty (stale ones from before a resume are replaced)', async () => {
    for (const f of RUN_FILES) writeFileSync(join(dir, f), '{"id":"old","set":["x"]}\n');
    expect(await writeRunFiles(dir, [])).toEqual({ failures: 0, undo: 0, noBefore: 0, conflicts: 0 });
    expect(RUN_FILES.map((f) => readFileSync(join(dir, f), 'utf8'))).toEqual(['', '', '']);
    expect(readdirSync(dir).sort()).toEqual(RUN_FILES);
  });
});

describe('undo.ndjson', () => {
  test('{"id","set": earliest before} for every item the run may have changed', async () => {
    const counts = await writeRunFiles(
      dir,
      foldJournal([
        entry('a', 'pending', { before: ['x', 'y'], after: ['x'] }),
        entry('a', 'updated', { before: ['x', 'y'], after: ['x'] }),
        entry('b', 'unchanged', { before: ['x'], after: ['x'] }), // nothing sent
        entry('c', 'failed', { reason: 'not_found', before: null, after: null }), // nothing sent
        entry('d', 'pending', { before: [], after: ['n'] }),
        entry('d', 'updated', { before: [], after: ['n'] }),
        entry('e', 'pending', { before: null, after: ['n'] }), // --no-read: nothing to restore
        entry('e', 'updated', { before: null, after: ['n'] }),
        entry('f', 'pending', { before: ['f0'], after: ['f1'] }),
        entry('f', 'failed', { before: ['f0'], after: ['f1'], reason: 'retries_exhausted' }), // a lost reply may hide the write
        entry('g', 'pending', { before: ['g0'], after: ['g1'] }), // killed in flight
        entry('h', 'pending', { before: ['h0'], after: ['h1'] }),
        entry('h', 'updated', { before: ['h0'], after: ['h1'] }),
        entry('h', 'pending', { before: ['h1'], after: ['h2'] }), // resume, its rule changed: written again
        entry('h', 'updated', { before: ['h1'], after: ['h2'] }),
        entry('i', 'pending', { before: ['i0'], after: ['i1'] }),
        entry('i', 'updated', { before: ['i0'], after: ['i1'] }),
        entry('i', 'skipped', { before: ['i1'], after: ['i1'] }),
        entry('j', 'conflict', { before: ['j1'], after: ['j2'], expect: ['j0'] }), // not written
        entry('k', 'pending', { before: ['k0'], after: ['k1'] }),
        entry('k', 'unchanged', { before: ['k1'], after: ['k1'] }), // landed before a kill: a resume saw it done
        entry('l', 'pending', { before: [' L', 'm'], after: ['L'] }), // before exactly as read
        entry('l', 'updated', { before: [' L', 'm'], after: ['L'] }),
      ]).values(),
    );
    expect(lines(join(dir, UNDO_FILE))).toEqual([
      { id: 'a', set: ['x', 'y'] },
      { id: 'd', set: [] },
      { id: 'f', set: ['f0'] },
      { id: 'g', set: ['g0'] },
      { id: 'h', set: ['h0'] },
      { id: 'i', set: ['i0'] },
      { id: 'k', set: ['k0'] },
      { id: 'l', set: [' L', 'm'] },
    ]);
    expect(counts).toEqual({ failures: 2, undo: 8, noBefore: 1, conflicts: 1 }); // failures: c and f
  });

  test('undo lines are valid rules restoring before', async () => {
    await writeRunFiles(
      dir,
      foldJournal([
        entry('a', 'pending', { before: ['x', 'y'], after: ['z'] }),
        entry('a', 'updated', { before: ['x', 'y'], after: ['z'] }),
        entry('d', 'pending', { before: [], after: ['z'] }),
        entry('d', 'updated', { before: [], after: ['z'] }),
      ]).values(),
    );
    const written = lines(join(dir, UNDO_FILE)) as Array<Rule & { set: string[] }>;
    expect(written).toHaveLength(2);
    written.forEach((line, i) => {
      const validated = validateRuleObject(line, { file: UNDO_FILE, line: i + 1 });
      expect(validated).toEqual({ ...line, source: { file: UNDO_FILE, line: i + 1 } });
      expect(applyOp(['z', 'q'], applyRule(undefined, line))).toEqual(line.set);
    });
  });
});

describe('conflicts.ndjson', () => {
  test('each conflict is a delta rule with what was expected, found and wanted', async () => {
    const op: GuardedOp = { kind: 'guarded', expect: ['a', 'old'], write: ['a', 'new'] };
    const counts = await writeRunFiles(
      dir,
      foldJournal([
        entry('k', 'conflict', { before: ['a', 'old', 'edited'], after: ['a', 'new'], expect: ['a', 'old'], op, error: 'changed since: not written' }),
        // An older line without the operation: the delta comes from expect and after.
        entry('p', 'conflict', { before: ['p0', 'edit'], after: ['q'], expect: ['p0'] }),
        entry('r', 'conflict', { before: ['x'], after: ['y'], expect: ['w'] }),
        entry('r', 'updated', { before: ['w'], after: ['y'] }), // resolved on a resume: no longer a conflict
      ]).values(),
    );
    expect(counts.conflicts).toBe(2);
    const written = lines(join(dir, CONFLICTS_FILE)) as Array<Rule & { id: string }>;
    expect(written).toEqual([
      { id: 'k', add: ['new'], remove: ['old'], _expected: ['a', 'old'], _current: ['a', 'old', 'edited'], _wanted: ['a', 'new'] },
      { id: 'p', add: ['q'], remove: ['p0'], _expected: ['p0'], _current: ['p0', 'edit'], _wanted: ['q'] },
    ]);
    written.forEach((line, i) => {
      const validated = validateRuleObject(line, { file: CONFLICTS_FILE, line: i + 1 });
      expect(validated).toEqual({ id: line.id, add: line.add, remove: line.remove, source: { file: CONFLICTS_FILE, line: i + 1 } });
    });
    // `retag run conflicts.ndjson` applies the change on top of what the image holds now.
    expect(applyOp(['a', 'old', 'edited'], applyRule(undefined, written[0]!))).toEqual(['a', 'edited', 'new']);
  });
});

describe('plan, rejects and the generic writer', () => {
  const decisions: Decision[] = [
    { id: 'a', before: ['x'], after: ['x', 'y'], action: 'update', op: { kind: 'merge', add: ['y'], remove: [] }, matched: [0] },
    { id: 'b', before: null, after: null, action: 'not_found', op: { kind: 'set', tags: ['t'] } },
  ];

  test('PlanWriter writes the header line, then {id, before, after, action} per item', () => {
    const plan = PlanWriter.open(dir, HEADER);
    for (const d of decisions) plan.write(d);
    expect(plan.count).toBe(2);
    plan.close();
    plan.close(); // idempotent
    const text = readFileSync(join(dir, PLAN_FILE), 'utf8');
    const [first] = text.split('\n');
    expect(first).toBe(`{"retag_plan":1,"created":"${AT}","manifest":"m.csv","manifest_sha256":"${'ab'.repeat(32)}"}`);
    expect(lines(join(dir, PLAN_FILE))).toEqual([
      HEADER,
      { id: 'a', before: ['x'], after: ['x', 'y'], action: 'update' },
      { id: 'b', before: null, after: null, action: 'not_found' },
    ]);
    expect(text.endsWith('\n')).toBe(true);
  });

  test('PlanWriter replaces an older plan and handles more than one chunk', () => {
    writeFileSync(join(dir, PLAN_FILE), '{"old":true}\n');
    const plan = PlanWriter.open(dir, { ...HEADER, manifest_sha256: null });
    for (let i = 0; i < 5000; i++) plan.write({ id: `img-${i}`, before: ['a'], after: ['a', 'b'], action: 'update' });
    plan.close();
    const written = lines(join(dir, PLAN_FILE));
    expect(written).toHaveLength(5001);
    expect(written[0]).toEqual({ ...HEADER, manifest_sha256: null });
    expect(written[1]).toEqual({ id: 'img-0', before: ['a'], after: ['a', 'b'], action: 'update' });
    expect(written[5000]).toEqual({ id: 'img-4999', before: ['a'], after: ['a', 'b'], action: 'update' });
    expect(new Set(written.slice(1).map((l) => (l as { id: string }).id)).size).toBe(5000);
  });

  test('PlanWriter fails in a missing directory', () => {
    expect(() => PlanWriter.open(join(dir, 'missing'), HEADER)).toThrow(/ENOENT/);
  });

  test('writeRejects writes location, error and the raw record', async () => {
    const n = await writeRejects(dir, [
      { source: { file: 'm.csv', line: 17 }, message: 'id is empty', raw: { id: '', tags: 'a' } },
      { source: { file: 'm.json', path: '$[3]' }, message: 'unknown key "ad"' },
      { source: { file: 'm.ndjson' }, message: 'file is empty' },
    ]);
    expect(n).toBe(3);
    expect(lines(join(dir, REJECTS_FILE))).toEqual([
      { location: 'm.csv:17', error: 'id is empty', raw: { id: '', tags: 'a' } },
      { location: 'm.json:$[3]', error: 'unknown key "ad"' },
      { location: 'm.ndjson', error: 'file is empty' },
    ]);
  });

  test('writeNdjson handles more than one chunk, sync or async sources, and leaves no temp file', async () => {
    const path = join(dir, 'big.ndjson');
    function* many() {
      for (let i = 0; i < 20_000; i++) yield { id: `img-${i}`, set: ['a', 'b'] };
    }
    await writeNdjson(path, many());
    const written = lines(path);
    expect(written).toHaveLength(20_000);
    expect(written[0]).toEqual({ id: 'img-0', set: ['a', 'b'] });
    expect(written[19_999]).toEqual({ id: 'img-19999', set: ['a', 'b'] });
    expect(readdirSync(dir)).toEqual(['big.ndjson']);

    async function* few() {
      yield { n: 1 };
      yield { n: 2 };
    }
    await writeNdjson(path, few());
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n');
    expect(readdirSync(dir)).toEqual(['big.ndjson']);
  });

  test('a source that throws leaves the old file in place and no temp file', async () => {
    const path = join(dir, 'x.ndjson');
    writeFileSync(path, '{"old":true}\n');
    function* failing() {
      for (let i = 0; i < 10_000; i++) yield { a: i }; // past the first chunk: some of it was written to the temp file
      throw new Error('source broke');
    }
    await expect(writeNdjson(path, failing())).rejects.toThrow('source broke');
    expect(readFileSync(path, 'utf8')).toBe('{"old":true}\n');
    expect(readdirSync(dir)).toEqual(['x.ndjson']);
  });

  test('writers fail in a missing directory', async () => {
    await expect(writeNdjson(join(dir, 'missing', 'x.ndjson'), [])).rejects.toThrow(/ENOENT/);
    await expect(writeRunFiles(join(dir, 'missing'), [])).rejects.toThrow(/ENOENT/);
  });
});

describe('journal under a resumed run (append after kill -9)', () => {
  test('resume reads, skips done, appends; reports cover the whole run', async () => {
    const runDir = join(dir, 'run');
    await mkdir(runDir);
    const set = (tags: string[]): ComposedOp => ({ kind: 'set', tags });
    const j1 = await JournalWriter.open(runDir, { append: false });
    j1.pending(entry('a', 'pending', { before: ['a0'], after: ['a1'], op: set(['a1']) }));
    j1.pending(entry('b', 'pending', { before: ['b0'], after: ['b1'], op: set(['b1']) }));
    j1.pending(entry('c', 'pending', { before: ['c0'], after: ['c1'], op: set(['c1']) }));
    j1.flush(); // the writes are sent
    j1.record(entry('a', 'updated', { before: ['a0'], after: ['a1'], op: set(['a1']), status: 200 }));
    j1.record(entry('b', 'failed', { before: ['b0'], after: ['b1'], op: set(['b1']), reason: 'retries_exhausted', status: 503 }));
    await j1.close(); // c's reply never came
    appendFileSync(join(runDir, JOURNAL_FILE), '{"id":"d","outcome":"unch'); // killed mid-write

    const first = await readJournalState(runDir);
    expect(first.tornLines).toBe(1);
    const todo = ['a', 'b', 'c', 'd'].filter((id) => !isDone(first.items.get(id)));
    expect(todo).toEqual(['b', 'c', 'd']);

    const j2 = await JournalWriter.open(runDir, { append: true });
    j2.pending(entry('b', 'pending', { before: ['b0'], after: ['b1'], op: set(['b1']) }));
    j2.flush();
    j2.record(entry('b', 'updated', { before: ['b0'], after: ['b1'], op: set(['b1']), status: 200 }));
    j2.record(entry('c', 'unchanged', { before: ['c1'], after: ['c1'], op: set(['c1']) })); // c's write had landed
    j2.record(entry('d', 'unchanged', { before: ['d0'], after: ['d0'], op: set(['d0']) }));
    await j2.close();

    const whole = await readJournalState(runDir);
    expect(whole.tornLines).toBe(1);
    expect([...whole.items.values()].filter((s) => isDone(s)).map((s) => s.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(summarizeItems(whole.items.values())).toEqual({
      counts: { updated: 2, unchanged: 2, failed: 0, conflict: 0, skipped: 0, total: 4 },
      failuresByReason: {},
    });
    expect(await writeRunFiles(runDir, whole.items.values())).toEqual({ failures: 0, undo: 3, noBefore: 0, conflicts: 0 });
    expect(lines(join(runDir, UNDO_FILE))).toEqual([
      { id: 'a', set: ['a0'] },
      { id: 'b', set: ['b0'] },
      { id: 'c', set: ['c0'] }, // the run changed c, though the resume found it done
    ]);
    expect(readFileSync(join(runDir, FAILURES_FILE), 'utf8')).toBe('');
    expect(readFileSync(join(runDir, CONFLICTS_FILE), 'utf8')).toBe('');
  });
});
