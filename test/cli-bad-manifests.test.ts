/**
 * End to end: every malformed-manifest kind of design §2 (the corpus fixtures/bad/, its README
 * table says where each problem is and what it says) through the built CLI:
 * `retag run <file>` exits 2, names file, line (or JSON path) and problem on stderr, and not one
 * request reaches the server; `retag validate <file>` exits 2 the same way. `--skip-invalid`
 * writes rejects.ndjson and runs the rest.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRecordingServer, type RecordingServer } from './helpers/recording-server.js';
import { startForeignServer } from './helpers/foreign-server.js';
import { assertBuilt, mapLimit, readNdjson, ROOT, runCli, tempDir, type CliResult } from './helpers/cli.js';

const BAD_DIR = 'fixtures/bad';
const KEY = 'sk_test_bad_manifests';

/** file → [{where, fragment}] from fixtures/bad/README.md. */
function corpus(): Map<string, Array<{ where: string; fragment: string }>> {
  const table = new Map<string, Array<{ where: string; fragment: string }>>();
  const readme = readFileSync(join(ROOT, BAD_DIR, 'README.md'), 'utf8');
  for (const line of readme.split('\n')) {
    const m = /^\| `([^`]+)` \| (?:`([^`]+)`|(-|\d+)) \| `(.+)` \|$/.exec(line);
    if (!m) continue;
    const where = m[2] ?? m[3]!;
    table.set(m[1]!, [...(table.get(m[1]!) ?? []), { where, fragment: m[4]! }]);
  }
  return table;
}

const CORPUS = corpus();
const FILES = [...CORPUS.keys()];

/** The stderr line naming this problem: `file:where...fragment`, or `file: fragment` for a whole-file problem. */
function namesProblem(stderr: string, file: string, where: string, fragment: string): boolean {
  const lines = stderr.split('\n');
  const prefix = where === '-' ? `${file}: ` : `${file}:${where}`;
  return lines.some((l) => l.includes(prefix) && l.includes(fragment));
}

const tmp = tempDir('retag-cli-bad-');
let server: RecordingServer;
const runs = new Map<string, CliResult>();
const validations = new Map<string, CliResult>();

beforeAll(async () => {
  assertBuilt();
  server = await createRecordingServer();
  // Any request at all is a failure of the "nothing is sent" rule; answer as a server would.
  server.handle({ status: 200, body: [] });
  const env = { REIMAGE_API_KEY: KEY, REIMAGE_BASE_URL: server.url };
  // Spawning 100+ CLIs one by one is slow and each is tiny: run them a few at a time.
  await mapLimit(FILES, 4, async (file) => {
    const path = join(BAD_DIR, file);
    runs.set(file, await runCli(['run', path, '--out', join(tmp.dir, `out-${file}`), '--log-level', 'warn'], { env }));
    validations.set(file, await runCli(['validate', path]));
  });
}, 120_000);

afterAll(async () => {
  await server?.close();
  tmp.cleanup();
});

test('the README table covers every file of the corpus', () => {
  const onDisk = readdirSync(join(ROOT, BAD_DIR)).filter((f) => f !== 'README.md');
  expect(FILES.sort()).toEqual(onDisk.sort());
  expect(FILES.length).toBeGreaterThanOrEqual(50);
});

describe.each(FILES.map((f) => [f]))('%s', (file) => {
  const path = join(BAD_DIR, file);

  test('retag run → exit 2, stderr names file, line/path and problem; zero requests', () => {
    const res = runs.get(file)!;
    expect(res.code).toBe(2);
    for (const { where, fragment } of CORPUS.get(file)!) {
      if (!namesProblem(res.stderr, path, where, fragment)) {
        throw new Error(`stderr does not name ${path}:${where} "${fragment}":\n${res.stderr}`);
      }
    }
    expect(res.stderr).not.toMatch(/unexpected error|\bat .*\.js:\d+/); // a message for people, not a stack
    expect(existsSync(join(tmp.dir, `out-${file}`, 'journal.ndjson'))).toBe(false);
  });

  test('retag validate → exit 2 with the same problem', () => {
    const res = validations.get(file)!;
    expect(res.code).toBe(2);
    for (const { where, fragment } of CORPUS.get(file)!) {
      if (!namesProblem(res.stderr, path, where, fragment)) {
        throw new Error(`validate stderr does not name ${path}:${where} "${fragment}":\n${res.stderr}`);
      }
    }
  });
});

test('not one request reached the server for any of them', () => {
  expect(runs.size).toBe(FILES.length);
  expect(server.requests).toEqual([]);
});

test('--skip-invalid: bad rules go to rejects.ndjson with their location, the rest run', async () => {
  const srv = await startForeignServer({
    images: [
      { id: 'ok-1', owner: 'erin', tags: ['a'] },
      { id: 'ok-2', owner: 'erin', tags: ['b'] },
      { id: 'ok-3', owner: 'erin', tags: [] },
    ],
    keys: { [KEY]: 'erin' },
  });
  try {
    const manifest = join(tmp.dir, 'mixed.ndjson');
    writeFileSync(
      manifest,
      [
        '{"id":"ok-1","add":["new"]}',
        '{"id":"bad/slash","add":["x"]}',
        '{"id":"ok-2","ad":["typo"]}',
        '{"id":"ok-3","set":["s"]}',
        '{not json',
        '{"id":"ok-2","remove":["b"]}',
      ].join('\n') + '\n',
    );
    const env = { REIMAGE_API_KEY: KEY, REIMAGE_BASE_URL: srv.url };

    // Without --skip-invalid: exit 2, all three problems listed at once, nothing sent.
    const strict = await runCli(['run', manifest, '--out', join(tmp.dir, 'strict'), '--log-level', 'warn'], { env });
    expect(strict.code).toBe(2);
    for (const line of [2, 3, 5]) expect(strict.stderr).toContain(`${manifest}:${line}`);
    expect(srv.requests).toHaveLength(0);

    const out = join(tmp.dir, 'skip');
    const res = await runCli(['run', manifest, '--skip-invalid', '--out', out, '--log-level', 'error'], { env });
    expect(res.code).toBe(0);
    const rejects = readNdjson<{ location: string; error: string; raw?: unknown }>(join(out, 'rejects.ndjson'));
    // (line 3 has two problems: the unknown key, and so no operation)
    expect([...new Set(rejects.map((r) => r.location))]).toEqual([`${manifest}:2`, `${manifest}:3`, `${manifest}:5`]);
    const at = (line: number) => rejects.filter((r) => r.location === `${manifest}:${line}`).map((r) => r.error).join(' | ');
    expect(at(2)).toContain('contains "/"');
    expect(at(3)).toContain('unknown key "ad"');
    expect(at(5)).toContain('malformed JSON');
    // The rejects are visible in the summary too, not only in their file (a cron run must not look clean).
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).rejected).toBe(rejects.length);
    expect(res.stderr).toContain(`rejected:  ${rejects.length} manifest problems skipped (--skip-invalid)`);
    expect(srv.tags('ok-1')).toEqual(['a', 'new']);
    expect(srv.tags('ok-2')).toEqual([]);
    expect(srv.tags('ok-3')).toEqual(['s']);
    expect(srv.updatesSent().sort()).toEqual(['ok-1', 'ok-2', 'ok-3']);
  } finally {
    await srv.close();
  }
});
