import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { UsageError } from '../src/errors.js';
import { API_KEY_ENV, loadApiKey, redactKey } from '../src/reimage/credentials.js';
import { assertBuilt, ROOT } from './helpers/cli.js';

const execFileAsync = promisify(execFile);

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

type LoadOutcome = { key: string } | { error: { usage: boolean; exitCode: unknown; message: string } };

const NOBODY = 65534;

/**
 * loadApiKey({ apiKeyFile: path, env: {} }) as a user that is not root. Root reads a mode-000
 * file anyway, and CI runs as root, so there the call runs in a child process dropped to
 * `nobody` with setpriv (util-linux); it loads the BUILT module (dist/, as the e2e tests do).
 * Without setpriv, as root, this throws: the check fails loudly rather than passing unrun.
 */
async function loadApiKeyUnprivileged(path: string): Promise<LoadOutcome> {
  const outcome = (err: unknown): LoadOutcome => ({
    error: { usage: err instanceof UsageError, exitCode: (err as UsageError).exitCode, message: (err as Error).message },
  });
  if (process.getuid?.() !== 0) {
    try {
      return { key: await loadApiKey({ apiKeyFile: path, env: {} }) };
    } catch (err) {
      return outcome(err);
    }
  }
  assertBuilt();
  const dist = (rel: string) => pathToFileURL(join(ROOT, 'dist/src', rel)).href;
  const script = `
    const { loadApiKey } = await import(${JSON.stringify(dist('reimage/credentials.js'))});
    const { UsageError } = await import(${JSON.stringify(dist('errors.js'))});
    let out;
    try {
      out = { key: await loadApiKey({ apiKeyFile: process.argv[1], env: {} }), uid: process.getuid() };
    } catch (err) {
      out = { error: { usage: err instanceof UsageError, exitCode: err.exitCode, message: err.message }, uid: process.getuid() };
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const args = [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '--input-type=module', '-e', script, path];
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('setpriv', args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 30_000 }));
  } catch (err) {
    throw new Error(`running as root, the unreadable-file check needs \`setpriv\` (util-linux) to drop to uid ${NOBODY}: ${String(err)}`);
  }
  const { uid, ...result } = JSON.parse(stdout) as LoadOutcome & { uid: number };
  if (uid !== NOBODY) throw new Error(`the child ran as uid ${uid}, not ${NOBODY}: the check would prove nothing`);
  return result;
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
    // Its own directory, open to the unprivileged reader, so only the file's mode stands in the way.
    const permDir = await mkdtemp(join(tmpdir(), 'retag-cred-perm-'));
    try {
      await chmod(permDir, 0o755);
      const readable = join(permDir, 'readable');
      await writeFile(readable, KEY, { mode: 0o644 });
      const locked = join(permDir, 'locked');
      await writeFile(locked, KEY);
      await chmod(locked, 0o000);
      // Control: the same reader gets the key from a readable file, so the refusal below is the mode's doing.
      await expect(loadApiKeyUnprivileged(readable)).resolves.toEqual({ key: KEY });
      await expect(loadApiKeyUnprivileged(locked)).resolves.toEqual({
        error: { usage: true, exitCode: 2, message: `--api-key-file ${locked}: permission denied` },
      });
    } finally {
      await rm(permDir, { recursive: true, force: true });
    }
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
