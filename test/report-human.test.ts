import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { formatRunSummary, shellQuote } from '../src/report/human.js';
import type { RunSummary } from '../src/report/run-dir.js';

const base: RunSummary = {
  command: 'run',
  manifest: 'tags.csv',
  counts: { updated: 950, unchanged: 30, failed: 0, conflict: 0, skipped: 0, total: 980 },
  failuresByReason: {},
  requests: { total: 1200, reads: 40, writes: 1160, retries: 35, status429: 12 },
  startedAt: '2026-11-28T01:30:00.000Z',
  endedAt: '2026-11-28T01:31:23.000Z',
  durationMs: 83_000,
  exitCode: 0,
  runDir: 'retag-runs/2026-11-28T01-30-00Z',
  rate: { mode: 'auto', final: 18.5 },
};

describe('formatRunSummary', () => {
  test('a clean run: counts, requests, retries, 429s, duration, run dir; no re-run hint', () => {
    const text = formatRunSummary(base);
    expect(text).toContain('retag run: 980 items: 950 updated, 30 unchanged, 0 failed');
    expect(text).toContain('requests:  1200 (40 reads, 1160 writes), 35 retries, 12 × 429');
    expect(text).toContain('rate:      auto, ended at 18.5/s');
    expect(text).toContain('duration:  1m 23s (exit 0)');
    expect(text).toContain('run dir:   retag-runs/2026-11-28T01-30-00Z');
    expect(text).not.toContain('failures');
    expect(text).not.toContain('skipped');
    expect(text.endsWith('\n')).toBe(true);
  });

  test('a dry run says what would change and points at no failures file (none is written)', () => {
    const text = formatRunSummary({
      ...base,
      command: 'plan',
      counts: { updated: 0, unchanged: 30, failed: 2, conflict: 0, skipped: 0, total: 982 },
      failuresByReason: { not_found: 2 },
      wouldChange: 950,
      exitCode: 1,
    });
    expect(text).toContain('retag plan: 982 items: 950 would change (dry run), 30 unchanged, 2 failed');
    expect(text).not.toContain('re-run failures');
  });

  test('--skip-invalid: the rejected rules are counted and pointed at', () => {
    const text = formatRunSummary({ ...base, rejected: 3 });
    expect(text).toContain('rejected:  3 manifest problems skipped (--skip-invalid): see retag-runs/2026-11-28T01-30-00Z/rejects.ndjson');
  });

  test('failures: reasons and the re-run command', () => {
    const text = formatRunSummary({
      ...base,
      counts: { updated: 5, unchanged: 0, failed: 3, conflict: 0, skipped: 2, total: 10 },
      failuresByReason: { forbidden: 1, not_found: 2 },
      exitCode: 1,
      rate: { mode: 'fixed', final: 10 },
    });
    expect(text).toContain('5 updated, 0 unchanged, 3 failed, 2 skipped');
    expect(text).toContain('failures:  not_found 2, forbidden 1');
    expect(text).toContain('rate:      10/s');
    expect(text).toContain(`re-run failures with: retag run ${join(base.runDir, 'failures.ndjson')}`);
    expect(text).not.toContain('resume with');
  });

  test('an aborted run shows why and how to resume; paths with spaces are quoted', () => {
    const text = formatRunSummary({
      ...base,
      manifest: 'my tags.csv',
      runDir: 'runs/it is',
      exitCode: 3,
      aborted: 'failure budget exceeded (5%)',
      unfinished: 120,
      counts: { updated: 1, unchanged: 0, failed: 1, conflict: 0, skipped: 0, total: 2 },
      failuresByReason: { retries_exhausted: 1 },
    });
    expect(text).toContain('aborted:   failure budget exceeded (5%)');
    expect(text).toContain('unfinished: 120 items (resumable)');
    expect(text).toContain(`re-run failures with: retag run 'runs/it is/failures.ndjson'`);
    expect(text).toContain(`resume with: retag run 'my tags.csv' --resume 'runs/it is'`);
  });

  test('a resumed run shows the whole run too', () => {
    const text = formatRunSummary({
      ...base,
      counts: { updated: 1, unchanged: 0, failed: 0, conflict: 0, skipped: 9, total: 10 },
      wholeRun: { updated: 8, unchanged: 2, failed: 0, conflict: 0, skipped: 0, total: 10 },
    });
    expect(text).toContain('1 updated, 0 unchanged, 0 failed, 9 skipped');
    expect(text).toContain('whole run: 8 updated, 2 unchanged, 0 failed (10 items)');
  });

  test('shellQuote', () => {
    expect(shellQuote('retag-runs/2026-11-28T01-30-00Z/failures.ndjson')).toBe('retag-runs/2026-11-28T01-30-00Z/failures.ndjson');
    expect(shellQuote("it's here")).toBe(`'it'\\''s here'`);
  });
});
