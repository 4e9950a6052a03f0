/**
 * A key file others can read (design.md §5, issue 8): loadApiKey still returns the key, and tells
 * `onWarning` once, naming the file and the fix (`chmod 600 <file>`), never the key. A file only
 * its owner can read, the environment variable, and a caller without `onWarning` get no warning.
 * End to end: the warning reaches the run's log (openApiSession passes it to the logger).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyFileModeWarning, loadApiKey } from '../src/reimage/credentials.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, runCli } from './helpers/cli.js';

const KEY = 'sk_test_alice';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-cred-mode-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A key file with exactly `mode` (chmod after writing: the umask does not filter chmod). */
async function keyFile(name: string, mode: number): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${KEY}\n`);
  await chmod(path, mode);
  return path;
}

async function load(path: string): Promise<{ key: string; warnings: string[] }> {
  const warnings: string[] = [];
  const key = await loadApiKey({ apiKeyFile: path, env: {}, onWarning: (w) => warnings.push(w) });
  return { key, warnings };
}

const fix = (path: string) => `restrict it to its owner with \`chmod 600 ${path}\``;

describe('loadApiKey: the key file mode', () => {
  test.each<[string, number, string]>([
    ['0644 (the usual umask)', 0o644, 'readable by group or others (mode 644)'],
    ['0640 (group can read)', 0o640, 'readable by group or others (mode 640)'],
    ['0604 (others can read)', 0o604, 'readable by group or others (mode 604)'],
    ['0660 (group can read and write)', 0o660, 'readable by group or others (mode 660)'],
    ['0620 (group can write)', 0o620, 'open to group or others (mode 620)'],
  ])('%s: the key, and one warning naming the file and the fix, without the key', async (name, mode, says) => {
    const path = await keyFile(`key-${mode.toString(8)}`, mode);
    const { key, warnings } = await load(path);
    expect(key).toBe(KEY);
    expect(warnings).toEqual([`--api-key-file ${path} is ${says}: ${fix(path)}`]);
    expect(warnings[0]).not.toContain(KEY);
  });

  test.each<[string, number]>([
    ['0600', 0o600],
    ['0400', 0o400],
  ])('%s: owner only, no warning', async (_name, mode) => {
    const path = await keyFile(`key-${mode.toString(8)}`, mode);
    await expect(load(path)).resolves.toEqual({ key: KEY, warnings: [] });
  });

  test('the key from the environment: no file, no warning', async () => {
    const warnings: string[] = [];
    await expect(loadApiKey({ env: { REIMAGE_API_KEY: KEY }, onWarning: (w) => warnings.push(w) })).resolves.toBe(KEY);
    expect(warnings).toEqual([]);
  });

  test('a caller without onWarning (backward compatible): the key, nothing thrown', async () => {
    const path = await keyFile('key-compat', 0o644);
    await expect(loadApiKey({ apiKeyFile: path, env: {} })).resolves.toBe(KEY);
  });

  test('a file that is not a usable key is refused as before, with no warning first', async () => {
    const path = join(dir, 'two-lines');
    await writeFile(path, `${KEY}\nmore\n`);
    await chmod(path, 0o644);
    const warnings: string[] = [];
    await expect(loadApiKey({ apiKeyFile: path, env: {}, onWarning: (w) => warnings.push(w) })).rejects.toThrow(
      /whitespace or control characters/,
    );
    expect(warnings).toEqual([]);
  });

  test('keyFileModeWarning looks at the permission bits only (file type bits ignored)', () => {
    expect(keyFileModeWarning('/k', 0o100600)).toBeUndefined();
    expect(keyFileModeWarning('/k', 0o100644)).toBe(`--api-key-file /k is readable by group or others (mode 644): ${fix('/k')}`);
    expect(keyFileModeWarning('/k', 0o100601)).toBe(`--api-key-file /k is open to group or others (mode 601): ${fix('/k')}`);
  });
});

describe('the built CLI: the warning reaches the log', () => {
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({});
  });
  afterAll(async () => {
    await sim?.close();
  });

  async function probe(path: string) {
    const r = await runCli(['probe', '--api-key-file', path, '--page-size', '1'], { env: { REIMAGE_BASE_URL: sim.url } });
    const warnings = r.stderr
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { level: number; msg: string; apiKeyFile?: string })
      .filter((e) => e.level === 40);
    return { r, warnings };
  }

  test('a 0644 key file: exit 0, one warn entry naming the file and the fix; the key in no output', async () => {
    const path = await keyFile('cli-644', 0o644);
    const { r, warnings } = await probe(path);
    expect(r.code).toBe(0);
    expect(warnings.map((w) => ({ msg: w.msg, apiKeyFile: w.apiKeyFile }))).toEqual([
      { msg: `--api-key-file ${path} is readable by group or others (mode 644): ${fix(path)}`, apiKeyFile: path },
    ]);
    expect(r.stderr).not.toContain(KEY);
    expect(r.stdout).not.toContain(KEY);
  });

  test('a 0600 key file: exit 0, no warning', async () => {
    const path = await keyFile('cli-600', 0o600);
    const { r, warnings } = await probe(path);
    expect(r.code).toBe(0);
    expect(warnings).toEqual([]);
  });
});
