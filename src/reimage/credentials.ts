/**
 * Where the API key comes from, and how it is kept out of text. The key is never taken from a
 * command-line flag (it would show in `ps` and shell history): a file, or the environment.
 */
import { readFile } from 'node:fs/promises';
import { fileErrorReason, UsageError } from '../errors.js';
import { REDACTED, scrubSecrets } from '../secrets.js';

export const API_KEY_ENV = 'REIMAGE_API_KEY';
export { REDACTED };

const HOW =
  `pass --api-key-file <path> (a file holding only the key) or set the ${API_KEY_ENV} environment variable`;

export interface LoadApiKeyOptions {
  apiKeyFile?: string | undefined;
  env?: Record<string, string | undefined>;
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
  const { apiKeyFile, env = process.env } = options;
  if (apiKeyFile !== undefined && apiKeyFile !== '') {
    let text: string;
    try {
      text = await readFile(apiKeyFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--api-key-file ${apiKeyFile}: ${fileErrorReason(err)}`, { cause: err });
    }
    const key = text.replace(/^\uFEFF/, '').trim();
    assertUsableKey(key, `--api-key-file ${apiKeyFile}`);
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
