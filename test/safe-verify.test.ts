/**
 * Error budget and verification: `--max-failures N|N%` aborts with exit 3 past the budget;
 * `--verify` re-reads what the run wrote and reports drift (summary.verify, drift.ndjson).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { ReimageClient } from '../src/reimage/client.js';
import { RequestExecutor } from '../src/runner/executor.js';
import { RateLimiter } from '../src/runner/rate-limiter.js';
import { driftOf, verifyWrites } from '../src/runner/verify.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, expectExit, readJson, readNdjson, runCli, tempDir } from './safe-harness.js';

describe('driftOf (pure)', () => {
  test('same members in any order is no drift; a difference or a missing image is', () => {
    expect(driftOf('a', ['x', 'y'], ['y', 'x'])).toBeUndefined();
    expect(driftOf('a', ['x', 'y'], [' x', 'y', 'y'])).toBeUndefined();
    expect(driftOf('a', ['x', 'y'], ['x'])).toEqual({ id: 'a', expected: ['x', 'y'], current: ['x'] });
    expect(driftOf('a', ['x'], undefined)).toEqual({ id: 'a', expected: ['x'], current: null });
  });
});

describe('verify and the failure budget against the simulator', () => {
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ seedFile: 'fixtures/library.json', latencyMs: 2 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  test('verifyWrites (in process): drift and missing images, through the executor', async () => {
    const client = new ReimageClient({ baseUrl: sim.url, apiKey: 'sk_test_alice', concurrency: 2, timeoutMs: 5000 });
    const executor = new RequestExecutor(new RateLimiter(200), { retries: 2, baseDelayMs: 10, maxDelayMs: 100, maxRetryAfterMs: 1000 }, 2);
    try {
      const expected = new Map<string, string[]>([
        ['img-0003', sim.library.get('img-0003')!.tags],
        ['img-0004', ['not', 'what', 'it', 'has']],
        ['img-9999', ['gone']],
      ]);
      const result = await verifyWrites(expected, client, executor, 50, pino({ level: 'silent' }));
      expect(result.checked).toBe(3);
      expect(result.incomplete).toBeUndefined();
      expect(result.drift.map((d) => d.id).sort()).toEqual(['img-0004', 'img-9999']);
      expect(result.drift.find((d) => d.id === 'img-9999')!.current).toBeNull();
    } finally {
      await client.close();
    }
  });

  test('--verify: clean run reports no drift; an image edited afterwards shows in drift.ndjson', async () => {
    const dir = await tempDir();
    const runDir = path.join(dir, 'run');
    const manifest = path.join(dir, 'm.ndjson');
    await writeFile(manifest, ['img-0101', 'img-0102', 'img-0103'].map((id) => JSON.stringify({ id, add: ['verified'] })).join('\n'));
    const args = ['run', manifest, '--rate', '200', '--log-level', 'warn', '--verify'];

    const run = await runCli([...args, '--out', runDir], sim);
    expectExit(run, 0);
    expect(readJson(path.join(runDir, 'summary.json')).verify).toEqual({ checked: 3, drifted: 0 });
    expect(readNdjson(path.join(runDir, 'drift.ndjson'))).toEqual([]);

    // Someone edits one image after the run; verifying the run again (a resume with nothing left to do) reports it.
    sim.library.setTags('img-0102', ['changed-by-hand']);
    const again = await runCli([...args, '--resume', runDir], sim);
    expectExit(again, 0); // drift is reported, it is not an item failure
    expect(again.stderr).toContain('1 of 3 images changed since written');
    expect(readJson(path.join(runDir, 'summary.json')).verify).toEqual({ checked: 3, drifted: 1 });
    expect(readNdjson(path.join(runDir, 'drift.ndjson'))).toEqual([
      { id: 'img-0102', expected: expect.arrayContaining(['verified']), current: ['changed-by-hand'] },
    ]);
  });

  test.each([
    ['2', 3, /2/],
    ['50%', 3, /50%|allows 4/],
    ['80%', 1, null],
  ])('--max-failures %s with 5 of 8 items failing → exit %i', async (budget, code, message) => {
    const dir = await tempDir();
    const manifest = path.join(dir, 'm.ndjson');
    const ids = ['img-0110', 'img-0111', 'img-0112', 'nope-1', 'nope-2', 'nope-3', 'nope-4', 'nope-5'];
    await writeFile(manifest, ids.map((id) => JSON.stringify({ id, add: ['budget'] })).join('\n'));
    const res = await runCli(['run', manifest, '--out', path.join(dir, 'run'), '--max-failures', budget, '--rate', '200', '--log-level', 'warn'], sim);
    expectExit(res, code);
    const summary = readJson<{ exitCode: number; aborted?: string }>(path.join(dir, 'run', 'summary.json'));
    expect(summary.exitCode).toBe(code);
    if (message) expect(summary.aborted).toMatch(/failure budget exceeded/);
    else expect(summary.aborted).toBeUndefined();
  });

  test('--max-failures with a bad value → exit 2', async () => {
    const res = await runCli(['run', 'fixtures/manifests/sample.ndjson', '--max-failures', 'lots'], sim);
    expectExit(res, 2);
    expect(res.stderr).toContain('--max-failures');
  });
});
