/**
 * End to end: a rejected API key stops the run at once (exit 3, design §4/§6), and the key
 * appears in no output and no file (§5), even when the server echoes it back in its 401 body
 * and headers. Once with the key from --api-key-file, once from REIMAGE_API_KEY.
 */
import { afterAll, afterEach, beforeAll, expect, test } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRecordingServer, type RecordingServer } from './helpers/recording-server.js';
import { allFiles, assertBuilt, ndjson, readJson, runCli, tempDir, type CliResult } from './helpers/cli.js';

const SECRET = 'sk_live_SECRET_9f8e7d';
const CONCURRENCY = 4;

const tmp = tempDir('retag-cli-key-');
beforeAll(() => assertBuilt());
afterAll(() => tmp.cleanup());

let server: RecordingServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server that rejects every key and, carelessly, echoes it back (body and a header). */
async function rejectingServer(): Promise<RecordingServer> {
  server = await createRecordingServer();
  server.handle((req) => {
    const auth = String(req.headers.authorization ?? '');
    return {
      status: 401,
      delayMs: 30,
      body: { error: `Unauthorized: ${auth} is not a valid key` },
      headers: { 'www-authenticate': `Bearer error="invalid_token", token="${auth.replace(/^Bearer /, '')}"`, 'retry-after': '1' },
    };
  });
  return server;
}

function manifest(name: string, count: number, op: 'add' | 'set'): string {
  const file = join(tmp.dir, name);
  writeFileSync(file, ndjson(Array.from({ length: count }, (_, i) => ({ id: `img-${i + 1}`, [op]: ['t'] }))));
  return file;
}

function expectNoSecretAnywhere(res: CliResult, paths: string[]): void {
  expect(res.stdout).not.toContain(SECRET);
  expect(res.stderr).not.toContain(SECRET);
  let checked = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    for (const f of allFiles(p)) {
      checked++;
      if (f.text.includes(SECRET)) throw new Error(`the key leaked into ${f.path}`);
    }
  }
  expect(checked).toBeGreaterThan(0);
}

test('key from --api-key-file rejected: exit 3 after the first request(s), key in no output or file', async () => {
  const srv = await rejectingServer();
  const keyFile = join(tmp.dir, 'key.txt');
  writeFileSync(keyFile, `${SECRET}\n`);
  const out = join(tmp.dir, 'run-file');
  const logFile = join(tmp.dir, 'logs-file', 'retag.log');
  const res = await runCli(
    ['run', manifest('m1.ndjson', 50, 'add'), '--api-key-file', keyFile, '--out', out, '--log-file', logFile, '--log-level', 'trace', '--concurrency', String(CONCURRENCY)],
    { env: { REIMAGE_BASE_URL: srv.url } },
  );
  expect(res.code).toBe(3);
  expect(res.stderr).toMatch(/401|rejected/i);
  expect(srv.requests.length).toBeGreaterThanOrEqual(1);
  expect(srv.requests.length).toBeLessThanOrEqual(CONCURRENCY + 1);
  expect(srv.requests[0]!.headers.authorization).toBe(`Bearer ${SECRET}`); // the key was really used
  expect(readJson<Record<string, any>>(join(out, 'summary.json')).exitCode).toBe(3);
  expectNoSecretAnywhere(res, [out, join(tmp.dir, 'logs-file')]);
});

test('key from REIMAGE_API_KEY rejected during blind writes (--no-read): exit 3 within concurrency + 1 requests, key nowhere', async () => {
  const srv = await rejectingServer();
  const out = join(tmp.dir, 'run-env');
  const logFile = join(tmp.dir, 'logs-env', 'retag.log');
  const res = await runCli(
    ['run', manifest('m2.ndjson', 200, 'set'), '--no-read', '--out', out, '--log-file', logFile, '--log-level', 'debug', '--concurrency', String(CONCURRENCY), '--rate', '500'],
    { env: { REIMAGE_API_KEY: SECRET, REIMAGE_BASE_URL: srv.url } },
  );
  expect(res.code).toBe(3);
  expect(srv.requests.length).toBeGreaterThanOrEqual(1);
  expect(srv.requests.length).toBeLessThanOrEqual(CONCURRENCY + 1);
  expect(srv.requests.every((r) => r.method === 'POST')).toBe(true);
  const summary = readJson<Record<string, any>>(join(out, 'summary.json'));
  expect(summary.exitCode).toBe(3);
  expect(summary.aborted).toMatch(/401|rejected/i);
  expectNoSecretAnywhere(res, [out, join(tmp.dir, 'logs-env')]);
});

test('key rejected with logs on stderr (no --log-file): the key is not in stderr either', async () => {
  const srv = await rejectingServer();
  const out = join(tmp.dir, 'run-stderr');
  const res = await runCli(['run', manifest('m3.ndjson', 10, 'add'), '--out', out, '--log-level', 'trace'], {
    env: { REIMAGE_API_KEY: SECRET, REIMAGE_BASE_URL: srv.url },
  });
  expect(res.code).toBe(3);
  expect(res.stderr.length).toBeGreaterThan(0);
  expectNoSecretAnywhere(res, [out]);
});

test('a server echoing the key in a listing it does not understand, and in 4xx bodies: exit 3 / 1, the key still nowhere', async () => {
  server = await createRecordingServer();
  server.handle((req) => {
    const key = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (req.method === 'GET') return { status: 200, body: { session: { token: key, note: `hello ${key}` } } };
    return { status: 422, body: { error: `key ${key} may not write tags`, echo: req.headers.authorization } };
  });
  const env = { REIMAGE_API_KEY: SECRET, REIMAGE_BASE_URL: server.url };

  const outShape = join(tmp.dir, 'run-shape');
  const shape = await runCli(['run', manifest('m4.ndjson', 5, 'add'), '--out', outShape, '--log-level', 'debug'], { env });
  expect(shape.code).toBe(3);
  expect(shape.stderr).toMatch(/shape|no array of records/);
  expect(server.requests.every((r) => r.method === 'GET')).toBe(true); // nothing written
  expectNoSecretAnywhere(shape, [outShape]);

  const outWrite = join(tmp.dir, 'run-422');
  const written = await runCli(['run', manifest('m5.ndjson', 5, 'set'), '--no-read', '--out', outWrite, '--log-level', 'debug'], { env });
  expect(written.code).toBe(1);
  expect(readFileSync(join(outWrite, 'failures.ndjson'), 'utf8')).toContain('422');
  expect(readFileSync(join(outWrite, 'journal.ndjson'), 'utf8')).toContain('[REDACTED]');
  expectNoSecretAnywhere(written, [outWrite]);
});

test('a key with a quote and a backslash, echoed JSON-escaped in an error body: not in the journal or failures either', async () => {
  const odd = 'sk_live_q"uo\\te_77';
  server = await createRecordingServer();
  server.handle((req) => ({ status: 422, body: { error: `bad key ${String(req.headers.authorization).replace(/^Bearer /, '')}` } }));
  const out = join(tmp.dir, 'run-odd');
  const res = await runCli(['run', manifest('m6.ndjson', 2, 'set'), '--no-read', '--out', out, '--log-level', 'debug'], {
    env: { REIMAGE_API_KEY: odd, REIMAGE_BASE_URL: server.url },
  });
  expect(res.code).toBe(1);
  const escaped = JSON.stringify(odd).slice(1, -1);
  for (const text of [res.stdout, res.stderr, readFileSync(join(out, 'journal.ndjson'), 'utf8'), readFileSync(join(out, 'failures.ndjson'), 'utf8')]) {
    expect(text).not.toContain(odd);
    expect(text).not.toContain(escaped);
    expect(text).not.toContain('uo\\te_77');
  }
  expect(readFileSync(join(out, 'failures.ndjson'), 'utf8')).toContain('[REDACTED]');
});
