import type { Logger } from 'pino';
import { normalizeTags, sameTags } from '../plan/normalize.js';
import type { RequestExecutor } from './executor.js';
import { scanForIds, type TagsApi } from './scan.js';

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
  const pending = new Map([...expected].map(([id, tags]) => [id, { id, tags }]));
  const drift: DriftEntry[] = [];
  let checked = 0;
  try {
    for await (const found of scanForIds(pending, api, executor, pageSize, logger)) {
      for (const { item: want, tags } of found) {
        checked++;
        const d = driftOf(want.id, want.tags, tags);
        if (d) drift.push(d);
      }
    }
  } catch (error) {
    return { checked, drift, incomplete: (error as Error).message };
  }
  if (executor.aborted) return { checked, drift, incomplete: executor.abortReason ?? 'aborted' };
  for (const want of pending.values()) {
    checked++;
    drift.push(driftOf(want.id, want.tags, null)!);
  }
  return { checked, drift };
}
