/**
 * Where the API key comes from, and how it is kept out of text. The key is never taken from a
 * command-line flag (it would show in `ps` and shell history): a file, or the environment.
 */
import { open } from 'node:fs/promises';
import { fileErrorReason, UsageError } from '../errors.js';
import { REDACTED, scrubSecrets } from '../secrets.js';

export const API_KEY_ENV = 'REIMAGE_API_KEY';
export { REDACTED };

const HOW =
  `pass --api-key-file <path> (a file holding only the key) or set the ${API_KEY_ENV} environment variable`;

export interface LoadApiKeyOptions {
  apiKeyFile?: string | undefined;
  env?: Record<string, string | undefined>;
  /**
   * Told (never with the key) when the key file is readable by its group or by others, with the
   * fix. The key is still loaded: a loose mode is a risk to point out, not a reason to stop.
   */
  onWarning?: (message: string) => void;
}

/** The warning for a key file whose mode lets group or others read it (mode & 0o077), else undefined. */
export function keyFileModeWarning(file: string, mode: number): string | undefined {
  if ((mode & 0o077) === 0) return undefined;
  const shown = (mode & 0o777).toString(8).padStart(3, '0');
  const who = (mode & 0o044) !== 0 ? 'readable by group or others' : 'open to group or others';
  return `--api-key-file ${file} is ${who} (mode ${shown}): restrict it to its owner with \`chmod 600 ${file}\``;
}

/** Characters an HTTP header value (and so a bearer token) cannot carry. */
const UNSAFE = /[\s\x00-\x1f\x7f]/;

/** Check a key is usable in `Authorization: Bearer <key>`. Messages never include the key. */
export function assertUsableKey(key: string, source: string): void {
  if (key === '') throw new UsageError(`${source} is empty: ${HOW}`);
  if (UNSAFE.test(key)) {
    throw new UsageError(`${source} must hold only the API key: it contains whitespace or control characters`);
  }
}

/**
 * The API key: from `apiKeyFile` (trimmed; the file must exist and not be empty) when given,
 * else from REIMAGE_API_KEY. Missing → UsageError naming both ways.
 */
export async function loadApiKey(options: LoadApiKeyOptions = {}): Promise<string> {
  const { apiKeyFile, env = process.env, onWarning } = options;
  if (apiKeyFile !== undefined && apiKeyFile !== '') {
    let text: string;
    let mode: number | undefined;
    try {
      // One open for both the mode and the text, so the mode checked is the file read.
      const handle = await open(apiKeyFile, 'r');
      try {
        mode = onWarning ? (await handle.stat()).mode : undefined;
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw new UsageError(`--api-key-file ${apiKeyFile}: ${fileErrorReason(err)}`, { cause: err });
    }
    const key = text.replace(/^\uFEFF/, '').trim();
    assertUsableKey(key, `--api-key-file ${apiKeyFile}`);
    const warning = mode === undefined || process.platform === 'win32' ? undefined : keyFileModeWarning(apiKeyFile, mode);
    if (warning !== undefined) onWarning?.(warning);
    return key;
  }
  const fromEnv = env[API_KEY_ENV]?.trim();
  if (fromEnv === undefined || fromEnv === '') {
    throw new UsageError(`no API key: ${HOW}`);
  }
  assertUsableKey(fromEnv, API_KEY_ENV);
  return fromEnv;
}

/** Replace every occurrence of `key` (raw, JSON-escaped, URL-encoded) in `text` with [REDACTED]. */
export function redactKey(text: string, key: string | undefined): string {
  return scrubSecrets(text, [key]);
}
