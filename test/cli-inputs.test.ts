/**
 * Spreadsheets and pipes as a newcomer brings them, end to end with the built CLI against the
 * simulator: a windows-1252 CSV with --encoding, a rename map, a manifest on standard input, and
 * the warning for a cell that looks separated by another character than the tag separator.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, CLI, ROOT, readJson, runCli, tempDir } from './helpers/cli.js';

const tmp = tempDir('retag-inputs-');
let sim: Simulator;
const env = () => ({ REIMAGE_API_KEY: 'sk_test_alice', REIMAGE_BASE_URL: sim.url });
const extra = (name: string) => join(ROOT, 'fixtures/manifests-extra', name);

beforeAll(async () => {
  assertBuilt();
  sim = await startSimulator({ seedFile: join(ROOT, 'fixtures/library.json') });
});
afterAll(async () => {
  await sim?.close();
  tmp.cleanup();
});

test('a windows-1252 CSV: refused as UTF-8 (exit 2, line named, nothing sent); with --encoding windows-1252 its characters arrive', async () => {
  sim.resetStats();
  const wrong = await runCli(['run', extra('windows-1252.csv'), '--out', join(tmp.dir, 'w1'), '--log-level', 'warn'], { env: env() });
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toMatch(/windows-1252\.csv:2: .*not valid UTF-8.*--encoding/);
  expect(sim.stats().requests).toBe(0);

  const before = sim.library.get('img-0060')!.tags;
  const right = await runCli(['run', extra('windows-1252.csv'), '--encoding', 'windows-1252', '--out', join(tmp.dir, 'w2'), '--log-level', 'warn'], { env: env() });
  expect(right.code).toBe(0);
  expect(sim.library.get('img-0060')!.tags).toEqual([...before.filter((t) => t !== 'café' && t !== 'crème brûlée'), 'café', 'crème brûlée']);
  expect(sim.library.get('img-0061')!.tags.slice(-2)).toEqual(['€-sale', '“quoted”']);
  expect(sim.library.get('img-0062')!.tags).toEqual(['naïve']);
});

test('a from,to rename map renames across the library, in place', async () => {
  const had = Object.entries(sim.library.dump()).filter(([, i]) => i.owner === 'alice' && i.tags.includes('black friday'));
  expect(had.length).toBeGreaterThan(0);
  const res = await runCli(['run', extra('rename-map.csv'), '--out', join(tmp.dir, 'map'), '--log-level', 'warn'], { env: env() });
  expect(res.code).toBe(0);
  for (const [id, image] of had) {
    const at = image.tags.indexOf('black friday');
    expect([id, sim.library.get(id)!.tags[at]]).toEqual([id, 'black-friday']);
  }
  const summary = readJson<{ rules: Array<{ rule: string; matched: number }> }>(join(tmp.dir, 'map', 'summary.json'));
  expect(summary.rules.map((r) => r.rule.replace(/^.*\//, ''))).toEqual(['rename-map.csv:2', 'rename-map.csv:3', 'rename-map.csv:4']);
});

test('`-` reads the manifest from standard input (with --format); without --format it says so, exit 2', async () => {
  const rules = '{"id":"img-0070","set":["from-stdin"]}\n{"id":"img-0071","add":["from-stdin"]}\n';
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env() }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.resume();
      child.on('close', (code) => resolve({ code, stderr }));
      child.stdin.end(rules);
    });
  const ok = await run(['run', '-', '--format', 'ndjson', '--out', join(tmp.dir, 'stdin'), '--log-level', 'warn']);
  expect(ok.code).toBe(0);
  expect(sim.library.get('img-0070')!.tags).toEqual(['from-stdin']);
  expect(sim.library.get('img-0071')!.tags).toContain('from-stdin');
  expect(readJson<{ manifest: string }>(join(tmp.dir, 'stdin', 'summary.json')).manifest).toBe('<stdin>');
  const bad = await run(['validate', '-']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--format');
  expect(bad.stderr).not.toMatch(/manifest\s+:|manifest "":/); // never an empty file name
});

test('a cell separated by another character than the tag separator is warned about once, with its line', async () => {
  const file = join(tmp.dir, 'commas.csv');
  writeFileSync(file, 'id,tags,op\nimg-0080,"summer, beach",add\nimg-0081,"red, green",add\nimg-0082,plain,add\n');
  const res = await runCli(['validate', file]);
  expect(res.code).toBe(0);
  const warnings = res.stderr.split('\n').filter((l) => l.startsWith('warning:'));
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain(`${file}:2`);
  expect(readFileSync(file, 'utf8')).toContain('summer, beach');
});
