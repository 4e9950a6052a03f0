import { statusOf } from './executor.js';

/**
 * A one-line, key-free description of an item's last error.
 * - `message`: whole, for logs and abort messages: `404 Image not found after 1 attempt`.
 * - `detail`: the error alone, for the journal's `error` field, which sits beside `status` and
 *   `attempts` (failures.ndjson's `_error` is composed from the three by describeFailure, so a
 *   journal `error` that repeated them made `404 404 Image not found after 1 attempt after 1 attempt`).
 */
export function describeError(error: unknown, attempts: number): { status?: number; message: string; detail: string } {
  const status = statusOf(error);
  const tries = `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
  if (status !== undefined) {
    const excerpt = (error as { bodyExcerpt?: unknown }).bodyExcerpt;
    const detail = typeof excerpt === 'string' && excerpt !== '' ? excerpt : `HTTP ${status}`;
    return { status, message: `${status}${detail === `HTTP ${status}` ? '' : ` ${detail}`} ${tries}`, detail };
  }
  const code = error && typeof error === 'object' && 'code' in error ? String((error as { code: unknown }).code) : '';
  const text = error instanceof Error ? error.message : String(error);
  // A NetworkError's message already names its code ("network error ECONNREFUSED on …"): say it once.
  const detail = code && !text.includes(code) ? `${code}: ${text}` : text;
  return { message: `${detail} ${tries}`, detail };
}

/** Errors that mean no connection could be made at all (as opposed to one dropped or answered badly). */
const CONNECT_FAILURES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * True when the last attempt could not even connect (refused, no such host, no route, connect
 * timeout). After all retries, that is the server being unreachable (design §6: exit 3, the
 * run stops and is resumable), not a failure of this one item.
 */
export function isUnreachable(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, phase } = error as { code?: unknown; phase?: unknown };
  return (typeof code === 'string' && CONNECT_FAILURES.has(code)) || phase === 'connect';
}
