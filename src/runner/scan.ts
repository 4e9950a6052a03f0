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
