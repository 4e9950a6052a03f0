/**
 * Integration: a server that cannot be reached stops the run (design §6: exit 3, "the server
 * unreachable; resumable") instead of failing every item one by one after all its retries —
 * both when the listing cannot be read and when the writes cannot be sent (--no-read, or a
 * server gone after the listing).
 */
import { afterAll, expect, test } from '@jest/globals';
import { createServer } from 'node:net';
import { startForeignServer } from './helpers/foreign-server.js';
import { runInProcess, targetsFromRules } from './helpers/in-process-run.js';
import { tempDir } from './helpers/cli.js';

const tmp = tempDir('retag-run-unreachable-');
afterAll(() => tmp.cleanup());

/** A loopback port nobody listens on (connections are refused). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const rules = Array.from({ length: 40 }, (_, i) => ({ id: `img-${i + 1}`, set: ['t'] }));

test('listing refused: aborted as unreachable, nothing journaled (all resumable)', async () => {
  const targets = await targetsFromRules(tmp.dir, rules, 'read.ndjson');
  const { result, entries, counters } = await runInProcess(targets, {
    baseUrl: `http://127.0.0.1:${await closedPort()}`,
    apiKey: 'sk_test_unreachable',
    retries: 2,
  });
  expect(result.aborted?.reason).toBe('unreachable');
  expect(entries).toEqual([]);
  expect(result.unfinished).toBe(40);
  expect(counters.total).toBe(3);
});

test('--no-read, every write refused: aborted as unreachable after the first item runs out of retries, not 40 × 3 attempts', async () => {
  const targets = await targetsFromRules(tmp.dir, rules, 'blind.ndjson');
  const concurrency = 4;
  const { result, entries, counters } = await runInProcess(targets, {
    baseUrl: `http://127.0.0.1:${await closedPort()}`,
    apiKey: 'sk_test_unreachable',
    retries: 2,
    read: false,
    concurrency,
  });
  expect(result.aborted?.reason).toBe('unreachable');
  expect(result.aborted?.message).toMatch(/unreachable/);
  // Items cut short are unfinished (a resume retries them), not failures.
  expect(entries.filter((e) => e.outcome === 'failed')).toEqual([]);
  expect(result.unfinished).toBe(40);
  // Retries wait outside the queue, so other items start meanwhile; but far from all 40 × 3.
  expect(counters.total).toBeLessThan((40 * 3) / 2);
});

test('server gone after the listing: the writes stop as unreachable too', async () => {
  const images = rules.map((r) => ({ id: r.id, owner: 'u', tags: [] as string[] }));
  const srv = await startForeignServer({ images, keys: { sk_test_gone: 'u' }, maxPageSize: 100 });
  // Answer the listing, then go away: the POSTs find nobody listening.
  srv.recorder.server.on('request', (req) => {
    if (req.method === 'POST') {
      req.socket.destroy();
      srv.recorder.server.close();
      srv.recorder.server.closeAllConnections();
    }
  });
  try {
    const targets = await targetsFromRules(tmp.dir, rules, 'gone.ndjson');
    const { result, entries } = await runInProcess(targets, { baseUrl: srv.url, apiKey: 'sk_test_gone', retries: 3, concurrency: 2 });
    expect(result.aborted?.reason).toBe('unreachable');
    expect(entries.filter((e) => e.outcome === 'failed')).toEqual([]);
  } finally {
    await srv.close();
  }
});
