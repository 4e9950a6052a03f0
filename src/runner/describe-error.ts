import { statusOf } from './executor.js';

/** A one-line, key-free description of an item's last error for the journal and failures.ndjson. */
export function describeError(error: unknown, attempts: number): { status?: number; message: string } {
  const status = statusOf(error);
  const tries = `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
  if (status !== undefined) {
    const excerpt = (error as { bodyExcerpt?: unknown }).bodyExcerpt;
    const text = typeof excerpt === 'string' && excerpt !== '' ? ` ${excerpt}` : '';
    return { status, message: `${status}${text} ${tries}` };
  }
  const code = error && typeof error === 'object' && 'code' in error ? String((error as { code: unknown }).code) : '';
  const message = error instanceof Error ? error.message : String(error);
  return { message: `${code ? `${code}: ` : ''}${message} ${tries}` };
}
