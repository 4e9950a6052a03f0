import type { Logger } from 'pino';
import { endOfListing, type ListRecord, type ParsedListPage } from '../reimage/list-parse.js';
import type { RequestExecutor } from './executor.js';
import { RunAbort } from './abort.js';
import { describeError } from './describe-error.js';

/** The part of the reimage client the runner needs (an interface, so tests can fake it). */
export interface TagsApi {
  listPage(page: number, pageSize: number, signal?: AbortSignal): Promise<ParsedListPage>;
  update(id: string, tags: string[], signal?: AbortSignal): Promise<void>;
}

/**
 * Page through GET /get/ (pages from 1), yielding each page's records as soon as it is read,
 * so their updates can be queued while the image was just read. Where the listing ends is
 * `endOfListing`'s call (empty page, repeated page, or the response's own metadata); a page
 * shorter than page_size is not the end, since a server may cap the page size.
 */
export async function* scanLibrary(
  api: TagsApi,
  executor: RequestExecutor,
  pageSize: number,
  logger: Logger,
): AsyncGenerator<ListRecord[]> {
  let previousIds: string[] | undefined;
  let seen = 0;
  for (let page = 1; ; page++) {
    const result = await executor.execute('read', () => api.listPage(page, pageSize));
    if (!result.ok) {
      if (result.reason === 'aborted') return;
      if (result.reason === 'unauthorized') {
        throw new RunAbort('unauthorized', 'the API key was rejected (401 Unauthorized): check REIMAGE_API_KEY or --api-key-file');
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
    seen += current.records.length;
    const end = endOfListing({ previousIds, current, page, pageSize, seen });
    if (end === 'empty' || end === 'repeated') {
      logger.debug({ page, end, seen }, 'end of listing');
      return;
    }
    yield current.records;
    if (end) {
      logger.debug({ page, end, seen }, 'end of listing');
      return;
    }
    previousIds = current.records.map((r) => r.id);
  }
}

/**
 * The scan every command that reads before it acts uses (run, undo, verify): page through the
 * listing and yield, page by page, the wanted items found with their current tags. Found ids are
 * deleted from `wanted`, so what is left there when the scan ends is what the listing lacks
 * (meaningful only if the executor was not aborted). Stops early once everything is found.
 *
 * A wanted record without tags cannot be merged or compared: the whole page is checked before
 * any of it is yielded, so no write for that page goes out, and the scan stops (RunAbort).
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
    const bare = records.find((r) => r.tags === null && wanted.has(r.id));
    if (bare) {
      throw new RunAbort(
        'list_shape',
        `the listing (GET /get/) returned ${bare.id} without its tags: cannot merge or compare safely, ` +
          `${executor.counters.writes === 0 ? 'nothing was written' : 'no further write was sent'}. ` +
          'Use --no-read with set/clear rules only (see retag probe).',
      );
    }
    const found: Array<{ item: T; tags: string[] }> = [];
    for (const record of records) {
      const item = wanted.get(record.id);
      if (item === undefined) continue;
      wanted.delete(record.id);
      found.push({ item, tags: record.tags! });
    }
    yield found;
    if (executor.aborted || wanted.size === 0) return;
  }
}
