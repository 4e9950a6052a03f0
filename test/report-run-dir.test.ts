import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../src/errors.js';
import { validateRuleObject } from '../src/manifest/validate-rule.js';
import { applyRule } from '../src/plan/compose.js';
import { applyOp } from '../src/plan/resolve.js';
import type { ComposedOp, Rule, Target } from '../src/plan/types.js';
import {
  createRunDir,
  describeFailure,
  ensureFreshRunDir,
  failedItems,
  FAILURES_FILE,
  isDone,
  JOURNAL_FILE,
  JournalWriter,
  latestById,
  openExistingRunDir,
  PLAN_FILE,
  readJournal,
  REJECTS_FILE,
  runTimestamp,
  SUMMARY_FILE,
  summarizeJournal,
  UNDO_FILE,
  writeFailures,
  writeNdjson,
  writePlan,
  writeRejects,
  writeSummary,
  writeUndo,
  type RunSummary,
} from '../src/report/run-dir.js';
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
  return { id, outcome, before: ['a'], after: ['a', 'b'], attempts: 1, at: AT, ...extra };
}
function lines(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}

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
      writeFileSync(join(first, JOURNAL_FILE), '');
      const second = await createRunDir(undefined, now);
      expect(second).toBe(join('retag-runs', '2026-11-28T01-30-00Z-2'));
    } finally {
      process.chdir(cwd);
    }
  });

  test('an explicit --out is created recursively; an empty existing one is reused', async () => {
    const out = join(dir, 'a', 'b', 'run');
    expect(await createRunDir(out)).toBe(out);
    expect(existsSync(out)).toBe(true);
    expect(await ensureFreshRunDir(out)).toBe(out);
  });

  test('a non-empty directory is refused unless resuming', async () => {
    writeFileSync(join(dir, JOURNAL_FILE), '');
    await expect(createRunDir(dir)).rejects.toBeInstanceOf(UsageError);
    await expect(ensureFreshRunDir(dir)).rejects.toThrow(/--resume/);
    await expect(openExistingRunDir(dir)).resolves.toBe(dir);
  });

  test('openExistingRunDir refuses a missing directory or a file', async () => {
    await expect(openExistingRunDir(join(dir, 'nope'))).rejects.toBeInstanceOf(UsageError);
    writeFileSync(join(dir, 'file'), 'x');
    await expect(openExistingRunDir(join(dir, 'file'))).rejects.toBeInstanceOf(UsageError);
  });
});

describe('journal', () => {
  test('each entry is on disk as soon as write returns', async () => {
    const journal = await JournalWriter.open(dir, { append: false });
    const path = join(dir, JOURNAL_FILE);
    expect(readFileSync(path, 'utf8')).toBe('');
    journal.write(entry('x1', 'updated'));
    expect(lines(path)).toEqual([entry('x1', 'updated')]);
    journal.write(entry('x2', 'failed', { status: 404, error: 'Image not found', reason: 'not_found', after: null }));
    expect(lines(path)).toHaveLength(2);
    expect(readFileSync(path, 'utf8').endsWith('\n')).toBe(true);
    await journal.close();
    await journal.close(); // idempotent
    expect(() => journal.write(entry('x3', 'updated'))).toThrow(/after close/);
  });

  test('lines have a stable key order: id, outcome, …, at', async () => {
    const journal = await JournalWriter.open(dir, { append: false });
    journal.write({ at: AT, attempts: 2, after: null, before: null, outcome: 'failed', id: 'x', status: 503, reason: 'retries_exhausted', error: 'Service Unavailable' });
    await journal.close();
    const text = readFileSync(join(dir, JOURNAL_FILE), 'utf8');
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['id', 'outcome', 'reason', 'before', 'after', 'attempts', 'status', 'error', 'at']);
  });

  test('a new run refuses an existing journal; append continues it', async () => {
    const j1 = await JournalWriter.open(dir, { append: false });
    j1.write(entry('x1', 'updated'));
    await j1.close();
    await expect(JournalWriter.open(dir, { append: false })).rejects.toBeInstanceOf(UsageError);
    const j2 = await JournalWriter.open(dir, { append: true });
    j2.write(entry('x2', 'unchanged'));
    await j2.close();
    expect((await readJournal(dir)).entries.map((e) => e.id)).toEqual(['x1', 'x2']);
  });

  test('the journal redacts secrets in error messages', async () => {
    const journal = await JournalWriter.open(dir, { append: false, redact: ['sk-secret'] });
    journal.write(entry('x', 'failed', { error: 'bad key sk-secret' }));
    await journal.close();
    expect(readFileSync(join(dir, JOURNAL_FILE), 'utf8')).not.toContain('sk-secret');
  });

  test('a missing journal reads as empty', async () => {
    expect(await readJournal(dir)).toEqual({ entries: [], tornLines: 0 });
  });

  test('a torn last line is tolerated, and appending after it starts a fresh line', async () => {
    const path = join(dir, JOURNAL_FILE);
    const good = entry('x1', 'updated');
    writeFileSync(path, `${JSON.stringify(good)}\n{"id":"x2","outco`);
    expect(await readJournal(dir)).toEqual({ entries: [good], tornLines: 1 });

    const journal = await JournalWriter.open(dir, { append: true });
    journal.write(entry('x2', 'updated'));
    await journal.close();
    const read = await readJournal(dir);
    expect(read.entries.map((e) => e.id)).toEqual(['x1', 'x2']);
    expect(read.tornLines).toBe(1);
  });

  test('lines that are JSON but not entries are counted, blank lines ignored', async () => {
    writeFileSync(join(dir, JOURNAL_FILE), `\n[1]\n{"id":"x"}\n${JSON.stringify(entry('y', 'failed'))}\r\n\n`);
    const read = await readJournal(dir);
    expect(read.entries.map((e) => e.id)).toEqual(['y']);
    expect(read.tornLines).toBe(2);
  });

  test('latestById keeps the last entry; a resume skip never hides what was done', () => {
    const latest = latestById([
      entry('a', 'failed'),
      entry('b', 'updated'),
      entry('a', 'updated', { before: ['old'] }),
      entry('b', 'skipped'),
      entry('c', 'skipped'),
      entry('d', 'updated'),
      entry('d', 'failed'),
    ]);
    expect(latest.get('a')).toMatchObject({ outcome: 'updated', before: ['old'] });
    expect(latest.get('b')?.outcome).toBe('updated');
    expect(latest.get('c')?.outcome).toBe('skipped');
    expect(latest.get('d')?.outcome).toBe('failed');
    expect([...latest.keys()]).toEqual(['a', 'b', 'c', 'd']);
    expect(isDone(latest.get('a'))).toBe(true);
    expect(isDone(latest.get('c'))).toBe(false);
    expect(isDone(latest.get('d'))).toBe(false);
    expect(isDone(undefined)).toBe(false);
  });

  test('summarizeJournal counts outcomes and failure reasons', () => {
    const latest = latestById([
      entry('a', 'updated'),
      entry('b', 'unchanged'),
      entry('c', 'failed', { reason: 'not_found' }),
      entry('d', 'failed', { reason: 'not_found' }),
      entry('e', 'failed', { reason: 'retries_exhausted' }),
      entry('f', 'failed'),
      entry('g', 'skipped'),
    ]);
    expect(summarizeJournal(latest)).toEqual({
      counts: { updated: 1, unchanged: 1, failed: 4, skipped: 1, total: 7 },
      failuresByReason: { not_found: 2, retries_exhausted: 1, unknown: 1 },
    });
  });
});

describe('summary.json', () => {
  const summary: RunSummary = {
    command: 'run',
    manifest: 'm.csv',
    counts: { updated: 1, unchanged: 0, failed: 0, skipped: 0, total: 1 },
    failuresByReason: {},
    requests: { total: 2, reads: 1, writes: 1, retries: 0, status429: 0 },
    startedAt: AT,
    endedAt: AT,
    durationMs: 0,
    exitCode: 0,
    runDir: 'x',
  };

  test('is written atomically: whole content, no temp file left behind', async () => {
    await writeSummary(dir, { ...summary, exitCode: 1 });
    await writeSummary(dir, summary);
    expect(JSON.parse(readFileSync(join(dir, SUMMARY_FILE), 'utf8'))).toEqual(summary);
    expect(readdirSync(dir)).toEqual([SUMMARY_FILE]);
  });

  test('a failed write leaves the previous file intact and no temp file', async () => {
    await writeSummary(dir, summary);
    const circular: Record<string, unknown> = { ...summary };
    circular.self = circular;
    await expect(writeSummary(dir, circular as unknown as RunSummary)).rejects.toThrow();
    expect(JSON.parse(readFileSync(join(dir, SUMMARY_FILE), 'utf8'))).toEqual(summary);
    expect(readdirSync(dir)).toEqual([SUMMARY_FILE]);
  });

  test('redacts secrets', async () => {
    await writeSummary(dir, { ...summary, aborted: 'key sk-1 rejected' }, { redact: ['sk-1'] });
    expect(readFileSync(join(dir, SUMMARY_FILE), 'utf8')).toContain('key [REDACTED] rejected');
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
    const items = ops.map(([id, op], i) => ({
      target: { id, op } as Target,
      entry: entry(id, 'failed', { status: 404 + i, error: 'boom', attempts: i + 1 }),
    }));
    expect(await writeFailures(dir, items)).toBe(ops.length);
    const written = lines(join(dir, FAILURES_FILE)) as Array<Rule & { _error: string }>;
    expect(written.map((r) => r.id)).toEqual(ops.map(([id]) => id));
    written.forEach((line, i) => {
      // What `retag run failures.ndjson` does with the line: validate it (annotations dropped)…
      const validated = validateRuleObject(line, { file: FAILURES_FILE, line: i + 1 });
      expect(Array.isArray(validated)).toBe(false);
      const { _error, ...rule } = line;
      expect(validated).toEqual({ ...rule, source: { file: FAILURES_FILE, line: i + 1 } });
      expect(typeof _error).toBe('string');
      // Only rule keys and annotations.
      for (const key of Object.keys(rule)) expect(['id', 'set', 'add', 'remove', 'clear']).toContain(key);
      const op = ops[i]![1];
      const recomposed = applyRule(undefined, rule);
      for (const before of befores) expect(applyOp(before, recomposed)).toEqual(applyOp(before, op));
    });
    expect(written[0]!._error).toBe('404 boom after 1 attempt');
    expect(written[1]!._error).toBe('405 boom after 2 attempts');
  });

  test('_error texts', () => {
    expect(describeFailure(entry('x', 'failed', { status: 404, error: 'Image not found', attempts: 1 }))).toBe(
      '404 Image not found after 1 attempt',
    );
    expect(describeFailure(entry('x', 'failed', { reason: 'not_found', attempts: 0 }))).toBe('not_found: id not in the library');
    expect(describeFailure(entry('x', 'failed', { reason: 'network', error: 'ECONNRESET', attempts: 6 }))).toBe(
      'network: ECONNRESET after 6 attempts',
    );
    expect(describeFailure(entry('x', 'failed', { attempts: 0 }))).toBe('failed: failed');
  });

  test('failedItems pairs failed latest entries with their targets, in target order', () => {
    const targets: Target[] = [
      { id: 'a', op: { kind: 'set', tags: ['t'] } },
      { id: 'b', op: { kind: 'set', tags: ['t'] } },
      { id: 'c', op: { kind: 'set', tags: ['t'] } },
    ];
    const latest = latestById([entry('c', 'failed'), entry('b', 'updated'), entry('a', 'failed'), entry('a', 'updated')]);
    expect(failedItems(targets, latest).map((i) => i.target.id)).toEqual(['c']);
  });

  test('an empty failures file is still written (a stale one from before a resume is replaced)', async () => {
    writeFileSync(join(dir, FAILURES_FILE), '{"id":"old","set":["x"]}\n');
    expect(await writeFailures(dir, [])).toBe(0);
    expect(readFileSync(join(dir, FAILURES_FILE), 'utf8')).toBe('');
  });
});

describe('undo.ndjson', () => {
  test('{"id","set":before} for every item whose latest outcome is updated', async () => {
    const result = await writeUndo(dir, [
      entry('a', 'updated', { before: ['x', 'y'], after: ['x'] }),
      entry('b', 'unchanged', { before: ['x'], after: ['x'] }),
      entry('c', 'failed'),
      entry('d', 'updated', { before: [], after: ['n'] }),
      entry('e', 'updated', { before: null, after: ['n'] }),
      entry('f', 'failed'),
      entry('f', 'updated', { before: ['f0'] }),
      entry('g', 'updated', { before: ['g0'] }),
      entry('g', 'skipped'),
    ]);
    expect(lines(join(dir, UNDO_FILE))).toEqual([
      { id: 'a', set: ['x', 'y'] },
      { id: 'd', set: [] },
      { id: 'f', set: ['f0'] },
      { id: 'g', set: ['g0'] },
    ]);
    expect(result).toEqual({ written: 4, noBefore: 1 });
  });

  test('undo lines are valid rules restoring before', async () => {
    await writeUndo(dir, [entry('a', 'updated', { before: ['x', 'y'], after: ['z'] }), entry('d', 'updated', { before: [] })]);
    for (const rule of lines(join(dir, UNDO_FILE)) as Rule[]) {
      expect(applyOp(['z', 'q'], applyRule(undefined, rule))).toEqual(rule.set);
    }
  });
});

describe('plan, rejects and the generic writer', () => {
  test('writePlan streams {id, before, after, action} lines from sync and async sources', async () => {
    const entries = [
      { id: 'a', before: ['x'], after: ['x', 'y'], action: 'update' as const },
      { id: 'b', before: null, after: null, action: 'not_found' as const },
    ];
    expect(await writePlan(dir, entries)).toBe(2);
    expect(lines(join(dir, PLAN_FILE))).toEqual(entries);
    async function* gen() {
      yield* entries;
    }
    expect(await writePlan(dir, gen())).toBe(2);
    expect(lines(join(dir, PLAN_FILE))).toEqual(entries);
  });

  test('writeRejects writes location, error and the raw record', async () => {
    await writeRejects(dir, [
      { source: { file: 'm.csv', line: 17 }, message: 'id is empty', raw: { id: '', tags: 'a' } },
      { source: { file: 'm.json', path: '$[3]' }, message: 'unknown key "ad"' },
    ]);
    expect(lines(join(dir, REJECTS_FILE))).toEqual([
      { location: 'm.csv:17', error: 'id is empty', raw: { id: '', tags: 'a' } },
      { location: 'm.json:$[3]', error: 'unknown key "ad"' },
    ]);
  });

  test('writeNdjson handles more than one chunk and leaves no temp file', async () => {
    const path = join(dir, 'big.ndjson');
    function* many() {
      for (let i = 0; i < 20_000; i++) yield { id: `img-${i}`, set: ['a', 'b'] };
    }
    await writeNdjson(path, many());
    const written = lines(path);
    expect(written).toHaveLength(20_000);
    expect(written[19_999]).toEqual({ id: 'img-19999', set: ['a', 'b'] });
    expect(readdirSync(dir)).toEqual(['big.ndjson']);
  });

  test('a source that throws leaves the old file in place and no temp file', async () => {
    const path = join(dir, 'x.ndjson');
    writeFileSync(path, '{"old":true}\n');
    function* failing() {
      yield { a: 1 };
      throw new Error('source broke');
    }
    await expect(writeNdjson(path, failing())).rejects.toThrow('source broke');
    expect(readFileSync(path, 'utf8')).toBe('{"old":true}\n');
    expect(readdirSync(dir)).toEqual(['x.ndjson']);
  });

  test('writers fail in a missing directory', async () => {
    await expect(writePlan(join(dir, 'missing'), [])).rejects.toThrow();
  });
});

describe('journal under a resumed run (append after kill -9)', () => {
  test('resume reads, skips done, appends; reports cover the whole run', async () => {
    const runDir = join(dir, 'run');
    await mkdir(runDir);
    const j1 = await JournalWriter.open(runDir, { append: false });
    j1.write(entry('a', 'updated', { before: ['a0'] }));
    j1.write(entry('b', 'failed', { reason: 'retries_exhausted' }));
    await j1.close();
    appendFileSync(join(runDir, JOURNAL_FILE), '{"id":"c","outcome":"upd'); // killed mid-write

    const { entries, tornLines } = await readJournal(runDir);
    expect(tornLines).toBe(1);
    const latest = latestById(entries);
    const todo = ['a', 'b', 'c'].filter((id) => !isDone(latest.get(id)));
    expect(todo).toEqual(['b', 'c']);

    const j2 = await JournalWriter.open(runDir, { append: true });
    j2.write(entry('b', 'updated', { before: ['b0'] }));
    j2.write(entry('c', 'unchanged'));
    await j2.close();
    const again = latestById((await readJournal(runDir)).entries);
    expect(summarizeJournal(again).counts).toEqual({ updated: 2, unchanged: 1, failed: 0, skipped: 0, total: 3 });
    await writeUndo(runDir, again.values());
    expect(lines(join(runDir, UNDO_FILE))).toEqual([
      { id: 'a', set: ['a0'] },
      { id: 'b', set: ['b0'] },
    ]);
  });
});
