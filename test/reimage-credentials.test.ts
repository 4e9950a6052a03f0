import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../src/errors.js';
import { API_KEY_ENV, loadApiKey, redactKey } from '../src/reimage/credentials.js';

const KEY = 'sk_test_abcdef0123456789';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-cred-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

async function usageError(p: Promise<unknown>): Promise<UsageError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('loadApiKey', () => {
  test('reads the file, trimmed', async () => {
    const path = await file('key1', `  ${KEY}\n`);
    await expect(loadApiKey({ apiKeyFile: path, env: {} })).resolves.toBe(KEY);
  });

  test('a UTF-8 BOM and CRLF are tolerated', async () => {
    const path = await file('key-bom', `\uFEFF${KEY}\r\n`);
    await expect(loadApiKey({ apiKeyFile: path, env: {} })).resolves.toBe(KEY);
  });

  test('the file wins over the environment', async () => {
    const path = await file('key2', KEY);
    await expect(loadApiKey({ apiKeyFile: path, env: { [API_KEY_ENV]: 'other' } })).resolves.toBe(KEY);
  });

  test('falls back to REIMAGE_API_KEY, trimmed', async () => {
    await expect(loadApiKey({ env: { REIMAGE_API_KEY: ` ${KEY} ` } })).resolves.toBe(KEY);
  });

  test('defaults to process.env', async () => {
    const saved = process.env.REIMAGE_API_KEY;
    process.env.REIMAGE_API_KEY = KEY;
    try {
      await expect(loadApiKey()).resolves.toBe(KEY);
    } finally {
      if (saved === undefined) delete process.env.REIMAGE_API_KEY;
      else process.env.REIMAGE_API_KEY = saved;
    }
  });

  test('missing everywhere → UsageError naming both ways', async () => {
    const e = await usageError(loadApiKey({ env: {} }));
    expect(e.message).toContain('--api-key-file');
    expect(e.message).toContain('REIMAGE_API_KEY');
  });

  test('an empty environment variable counts as missing', async () => {
    const e = await usageError(loadApiKey({ env: { REIMAGE_API_KEY: '   ' } }));
    expect(e.message).toMatch(/no API key/);
  });

  test('a missing file → UsageError naming it', async () => {
    const path = join(dir, 'nope');
    const e = await usageError(loadApiKey({ apiKeyFile: path, env: { REIMAGE_API_KEY: KEY } }));
    expect(e.message).toBe(`--api-key-file ${path}: no such file`);
  });

  test('a directory → UsageError', async () => {
    const e = await usageError(loadApiKey({ apiKeyFile: dir, env: {} }));
    expect(e.message).toMatch(/directory/);
  });

  test('an empty file → UsageError naming both ways', async () => {
    const path = await file('empty', ' \n\n');
    const e = await usageError(loadApiKey({ apiKeyFile: path, env: {} }));
    expect(e.message).toMatch(/is empty/);
    expect(e.message).toContain('REIMAGE_API_KEY');
  });

  test('a file with more than the key is refused without echoing it', async () => {
    const path = await file('two-lines', `${KEY}\nsecond line\n`);
    const e = await usageError(loadApiKey({ apiKeyFile: path, env: {} }));
    expect(e.message).toMatch(/whitespace or control characters/);
    expect(e.message).not.toContain(KEY);
  });

  test('an unreadable file → UsageError', async () => {
    if (process.getuid?.() === 0) return; // root reads anything
    const path = await file('locked', KEY);
    await chmod(path, 0o000);
    const e = await usageError(loadApiKey({ apiKeyFile: path, env: {} }));
    expect(e.message).toMatch(/permission denied/);
  });
});

describe('redactKey', () => {
  test.each<[string, string, string | undefined, string]>([
    ['every occurrence', `a ${KEY} b ${KEY}`, KEY, 'a [REDACTED] b [REDACTED]'],
    ['the URL-encoded form too', 'q=k%2Bey%2F1', 'k+ey/1', 'q=[REDACTED]'],
    ['no key → unchanged', 'text', undefined, 'text'],
    ['empty key → unchanged', 'text', '', 'text'],
    ['absent → unchanged', 'nothing here', KEY, 'nothing here'],
    ['regex characters are literal', 'x a.b*c y', 'a.b*c', 'x [REDACTED] y'],
  ])('%s', (_name, text, key, expected) => {
    expect(redactKey(text, key)).toBe(expected);
  });
});
