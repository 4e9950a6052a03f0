import type { Logger } from 'pino';
import { normalizeTags, sameTags } from '../plan/normalize.js';
import type { RequestExecutor } from './executor.js';
import { scanLibrary, type TagsApi } from './scan.js';

/** One line of drift.ndjson: an image whose tags are no longer what the run wrote. */
export interface DriftEntry {
  id: string;
  /** What the run wrote. */
  expected: string[];
  /** What the image carries now; null when the image is gone from the listing. */
  current: string[] | null;
}

/** Pure: does the image still carry what the run wrote? (Same members, whatever the order.) */
export function driftOf(id: string, expected: readonly string[], current: readonly string[] | null | undefined): DriftEntry | undefined {
  if (current === undefined || current === null) return { id, expected: [...expected], current: null };
  if (sameTags(normalizeTags(current), normalizeTags(expected))) return undefined;
  return { id, expected: [...expected], current: [...current] };
}

export interface VerifyResult {
  checked: number;
  drift: DriftEntry[];
  /** Set when the re-read could not finish (abort, unreachable): the drift list is then partial. */
  incomplete?: string;
}

/**
 * `--verify`: re-read (one scan of GET /get/, through the same executor, so rate-limited and
 * retried) the images the run wrote, and report those whose tags are no longer what was written.
 */
export async function verifyWrites(
  expected: Map<string, string[]>,
  api: TagsApi,
  executor: RequestExecutor,
  pageSize: number,
  logger: Logger,
): Promise<VerifyResult> {
  const pending = new Map(expected);
  const drift: DriftEntry[] = [];
  let checked = 0;
  try {
    for await (const records of scanLibrary(api, executor, pageSize, logger)) {
      for (const record of records) {
        const want = pending.get(record.id);
        if (!want) continue;
        if (record.tags === null) return { checked, drift, incomplete: 'the listing (GET /get/) carries no tags' };
        pending.delete(record.id);
        checked++;
        const d = driftOf(record.id, want, record.tags);
        if (d) drift.push(d);
      }
      if (pending.size === 0) break;
    }
  } catch (error) {
    return { checked, drift, incomplete: (error as Error).message };
  }
  if (executor.aborted) return { checked, drift, incomplete: executor.abortReason ?? 'aborted' };
  for (const [id, want] of pending) {
    checked++;
    drift.push(driftOf(id, want, null)!);
  }
  return { checked, drift };
}
