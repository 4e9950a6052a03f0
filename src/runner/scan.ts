import type { Logger } from 'pino';
import { endOfListing, type ListRecord, type ParsedListPage } from '../reimage/list-parse.js';
import type { RequestExecutor } from './executor.js';
import { RunAbort } from './abort.js';
import { describeError } from './describe-error.js';

/** The part of the reimage client the runner needs (an interface, so tests can fake it). */
export interface TagsApi {
  listPage(page: number, pageSize: number, signal?: AbortSignal): Promise<ParsedListPage>;
  update(id: string, tags: string[], signal?: AbortSignal): Promise<void>;
  /** GET /user/ (optional: the library's size, `image_count`, spares a confirming pass). */
  user?(signal?: AbortSignal): Promise<Record<string, unknown>>;
}

/** The ids a pass has read (a Set, or an IdMarks over the source's own numbering). */
export interface SeenIds {
  has(id: string): boolean;
  add(id: string): unknown;
  readonly size: number;
}

/** What one pass over the listing saw. */
export interface ScanPassStats {
  pages: number;
  /** Distinct ids read in this pass. */
  distinct: number;
  /** Records of an id already read in this pass (pages overlapping, or the listing moving). */
  repeats: number;
  /** The listing's own count of images, when its metadata gives one. */
  total?: number;
}

export function newPassStats(): ScanPassStats {
  return { pages: 0, distinct: 0, repeats: 0 };
}

export const UNAUTHORIZED_MESSAGE = 'the API key was rejected (401 Unauthorized): check REIMAGE_API_KEY or --api-key-file';

/**
 * One pass over GET /get/ (pages from 1), yielding each page's records as soon as it is read,
 * so their updates can be queued while the image was just read. An id met again later in the
 * pass is dropped (its first read stands) and counted in `stats.repeats`. Where the listing ends
 * is `endOfListing`'s call (empty page, repeated page, or the response's own metadata, counted in
 * distinct ids); a 404 for a page after the first also ends it. A page shorter than page_size is
 * not the end, since a server may cap the page size.
 */
export async function* scanLibrary(
  api: TagsApi,
  executor: RequestExecutor,
  pageSize: number,
  logger: Logger,
  stats: ScanPassStats = newPassStats(),
  seen: SeenIds = new Set<string>(),
): AsyncGenerator<ListRecord[]> {
  let previousIds: string[] | undefined;
  for (let page = 1; ; page++) {
    const result = await executor.execute('read', () => api.listPage(page, pageSize));
    if (!result.ok) {
      if (result.reason === 'aborted') return;
      if (result.reason === 'unauthorized') throw new RunAbort('unauthorized', UNAUTHORIZED_MESSAGE);
      if (result.reason === 'not_found' && page > 1) {
        logger.debug({ page, end: '404', seen: seen.size }, 'end of listing (404 past the last page)');
        return;
      }
      const { message } = describeError(result.error, result.attempts);
      const shape = (result.error as { name?: string } | undefined)?.name === 'ListShapeError';
      throw new RunAbort(
        shape ? 'list_shape' : 'unreachable',
        `could not list the library (GET /get/?page=${page}): ${message}` +
          (shape ? ' — the response shape is not one retag understands; nothing was written' : ''),
      );
    }
    const current = result.value;
    stats.pages++;
    if (current.meta.total !== undefined) stats.total = current.meta.total;
    const pageIds = new Set<string>();
    const fresh = current.records.filter((r) => !seen.has(r.id) && !pageIds.has(r.id) && pageIds.add(r.id));
    // A page repeating the previous one is the end of the listing, not the listing moving.
    const end = endOfListing({ previousIds, current, page, pageSize, seen: seen.size + fresh.length });
    if (end !== 'repeated') stats.repeats += current.records.length - fresh.length;
    for (const r of fresh) seen.add(r.id);
    stats.distinct = seen.size;
    if (end === 'empty' || end === 'repeated') {
      logger.debug({ page, end, seen: seen.size }, 'end of listing');
      return;
    }
    if (fresh.length > 0) yield fresh;
    if (end) {
      logger.debug({ page, end, seen: seen.size }, 'end of listing');
      return;
    }
    previousIds = current.records.map((r) => r.id);
  }
}

/** A record without tags cannot be merged or compared: stop before any write for its page. */
export function assertTagged(record: ListRecord, executor: RequestExecutor): asserts record is ListRecord & { tags: string[] } {
  if (record.tags !== null) return;
  throw new RunAbort(
    'list_shape',
    `the listing (GET /get/) returned ${record.id} without its tags: cannot merge or compare safely, ` +
      `${executor.counters.writes === 0 ? 'nothing was written' : 'no further write was sent'}. ` +
      'Use --no-read with set/clear rules only (see retag probe).',
  );
}

/**
 * Page through the listing and yield, page by page, the wanted items found with their current
 * tags (verify uses it). Found ids are deleted from `wanted`, so what is left there when the
 * scan ends is what the listing lacks (meaningful only if the executor was not aborted).
 */
export async function* scanForIds<T>(
  wanted: Map<string, T>,
  api: TagsApi,
  executor: RequestExecutor,
  pageSize: number,
  logger: Logger,
): AsyncGenerator<Array<{ item: T; tags: string[] }>> {
  if (wanted.size === 0) return;
  for await (const records of scanLibrary(api, executor, pageSize, logger)) {
    const found: Array<{ item: T; tags: string[] }> = [];
    for (const record of records) {
      const item = wanted.get(record.id);
      if (item === undefined) continue;
      assertTagged(record, executor);
      wanted.delete(record.id);
      found.push({ item, tags: record.tags });
    }
    yield found;
    if (executor.aborted || wanted.size === 0) return;
  }
}
