import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { ROOT, runCli } from './helpers/cli.js';
import { createRecordingServer, reply } from './helpers/recording-server.js';

describe('retag probe', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seedFile: join(ROOT, 'fixtures/library.json'), listShape: 'images' });
  });
  afterAll(() => sim.close());

  test('shows the raw first page and how it is read, and writes nothing', async () => {
    const r = await runCli(['probe', '--page-size', '3'], { env: { REIMAGE_API_KEY: 'sk_test_alice', REIMAGE_BASE_URL: sim.url } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('GET /get/?page=1&page_size=3');
    expect(r.stdout).toContain('"tags": "autumn-2024,product"'); // raw: tags as a comma string
    expect(r.stdout).toContain('retag reads: 3 records on page 1, 3 with their tags');
    expect(r.stdout).toContain('first record: {"id":"img-0001","tags":[]}');
    expect(sim.stats().byMethod.POST ?? 0).toBe(0);
  });

  test('a listing whose records carry no tags is flagged (exit 3): add/remove could not merge', async () => {
    const server = await createRecordingServer();
    try {
      server.handle(reply(200, { objects: ['https://files.reimage.dev/b/abc123/', 'https://files.reimage.dev/b/def456/'] }));
      const r = await runCli(['probe'], { env: { REIMAGE_API_KEY: 'sk_test_probe', REIMAGE_BASE_URL: server.url } });
      expect(r.code).toBe(3);
      expect(r.stdout).toContain('2 records on page 1, 0 with their tags');
      expect(r.stdout).toContain('only --no-read with set/clear rules can run');
      expect(server.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['GET /get/?page=1&page_size=5']);
    } finally {
      await server.close();
    }
  });
});
