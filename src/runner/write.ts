import { describeError, isUnreachable } from './describe-error.js';
import type { RequestExecutor } from './executor.js';
import type { TagsApi } from './scan.js';
import type { FailureReason } from './types.js';
import type { AbortKind } from './abort.js';

/** How one tag write ended, as the run and the undo both need it. */
export type WriteResult =
  | { kind: 'updated'; attempts: number }
  /** The run stopped before the write finished: leave the item unfinished (resumable). */
  | { kind: 'unfinished' }
  /** A failure that ends the whole run: every other write would fail the same way. */
  | { kind: 'stop'; reason: AbortKind; message: string }
  | { kind: 'failed'; attempts: number; status?: number; reason: FailureReason; error: string };

/** POST /update/<id> through the executor (queue, rate, retries), the outcome classified. */
export async function writeTags(executor: RequestExecutor, api: TagsApi, id: string, tags: string[]): Promise<WriteResult> {
  const result = await executor.execute('write', () => api.update(id, tags));
  if (result.ok) return { kind: 'updated', attempts: result.attempts };
  if (result.reason === 'aborted') return { kind: 'unfinished' };
  if (result.reason === 'unauthorized') {
    return { kind: 'stop', reason: 'unauthorized', message: 'the API key was rejected (401 Unauthorized): check REIMAGE_API_KEY or --api-key-file' };
  }
  const { status, message, detail } = describeError(result.error, result.attempts);
  if (result.reason === 'retries_exhausted' && isUnreachable(result.error)) {
    return { kind: 'stop', reason: 'unreachable', message: `the server is unreachable: ${message}; stopped sending; run again (or --resume) once it is back` };
  }
  return { kind: 'failed', attempts: result.attempts, ...(status !== undefined ? { status } : {}), reason: result.reason as FailureReason, error: detail };
}
