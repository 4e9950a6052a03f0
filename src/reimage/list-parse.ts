/**
 * Pure parsing of `GET /get/` pages. The response shape is undocumented (reimage-api.md §3.1),
 * so parsing is permissive about where the records and the paging metadata live, and strict
 * about what a record is: anything it cannot read with certainty is a ListShapeError, because
 * the tags read here are written back whole by /update/.
 */
import { ListShapeError } from './errors.js';

export interface ListRecord {
  id: string;
  /** Current tags; null when the record carries no `tags` field (the runner then stops). */
  tags: string[] | null;
  /** The listing gave the tags as one comma-joined string: a tag holding a comma cannot be read back. */
  tagsFromString?: true;
}

export interface ListMeta {
  total?: number;
  totalPages?: number;
  hasMore?: boolean;
  page?: number;
}

export interface ParsedListPage {
  records: ListRecord[];
  meta: ListMeta;
}

/** Keys under which an object response may hold its records, in order of preference. */
export const RECORD_KEYS = ['data', 'images', 'items', 'results', 'objects'] as const;
/** Sub-objects that may hold paging metadata. */
const META_CONTAINERS = ['meta', 'pagination', 'paging', 'page_info', 'pageInfo'] as const;

const TOTAL_KEYS = ['total', 'total_count', 'totalCount', 'total_items', 'totalItems'] as const;
const TOTAL_PAGES_KEYS = ['total_pages', 'totalPages', 'pages', 'page_count', 'pageCount', 'num_pages'] as const;
const HAS_MORE_KEYS = ['has_more', 'hasMore', 'has_next', 'hasNext', 'has_next_page', 'hasNextPage'] as const;
const NEXT_KEYS = ['next', 'next_page', 'nextPage', 'next_url'] as const;
const PAGE_KEYS = ['page', 'current_page', 'currentPage', 'page_number'] as const;

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function asCount(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d+$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

function firstCount(objs: readonly Obj[], keys: readonly string[]): number | undefined {
  for (const o of objs) {
    for (const k of keys) {
      const n = asCount(o[k]);
      if (n !== undefined) return n;
    }
  }
  return undefined;
}

function readHasMore(objs: readonly Obj[]): boolean | undefined {
  for (const o of objs) {
    for (const k of HAS_MORE_KEYS) {
      const v = o[k];
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1) return v === 1;
    }
  }
  for (const o of objs) {
    for (const k of NEXT_KEYS) {
      if (!(k in o)) continue;
      const v = o[k];
      // A next link / page number means more; null, false or "" means the end.
      if (v === null || v === false || v === '' || v === undefined) return false;
      if (v === true || typeof v === 'string' || typeof v === 'number') return true;
    }
  }
  return undefined;
}

/**
 * `tags` as an array of strings or a comma-joined string ("" → []). Absent / null → null.
 * Other shapes (numbers in the array, objects) are refused rather than guessed.
 */
function readTags(record: Obj, index: number, body: unknown): string[] | null {
  if (!('tags' in record)) return null;
  const tags = record.tags;
  if (tags === null || tags === undefined) return null;
  if (typeof tags === 'string') {
    return tags
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
  }
  if (Array.isArray(tags)) {
    for (const t of tags) {
      if (typeof t !== 'string') {
        throw new ListShapeError(`record ${index} has a tag that is not a string (${JSON.stringify(t)})`, body);
      }
    }
    return tags.slice() as string[];
  }
  throw new ListShapeError(`record ${index} has tags of type ${typeof tags}`, body);
}

/** An id from a file URL: https://files.reimage.dev/<bucket>/<object_id>/... → object_id. */
function idFromUrl(text: string): string | undefined {
  if (!/^https?:\/\//i.test(text)) return undefined;
  try {
    const segments = new URL(text).pathname.split('/').filter((s) => s !== '');
    const id = segments[1];
    return id === undefined ? undefined : decodeURIComponent(id);
  } catch {
    return undefined;
  }
}

function readRecord(item: unknown, index: number, body: unknown): ListRecord {
  if (typeof item === 'string') {
    // URL lists (as /get/tags and /get/search return) carry ids but no tags.
    const id = idFromUrl(item);
    if (id === undefined) throw new ListShapeError(`record ${index} is a string that is not a file URL`, body);
    return { id, tags: null };
  }
  if (!isObject(item)) throw new ListShapeError(`record ${index} is not an object`, body);
  const rawId = item.object_id ?? item.id;
  let id: string | undefined;
  if (typeof rawId === 'string' && rawId !== '') id = rawId;
  else if (typeof rawId === 'number' && Number.isFinite(rawId)) id = String(rawId);
  if (id === undefined) throw new ListShapeError(`record ${index} has no object_id or id`, body);
  const tags = readTags(item, index, body);
  return typeof item.tags === 'string' ? { id, tags, tagsFromString: true } : { id, tags };
}

/** Parse one page of `GET /get/`. Throws ListShapeError for anything unrecognised. */
export function parseListPage(body: unknown): ParsedListPage {
  let items: unknown[] | undefined;
  const metaSources: Obj[] = [];

  if (Array.isArray(body)) {
    items = body;
  } else if (isObject(body)) {
    metaSources.push(body);
    for (const key of RECORD_KEYS) {
      const v = body[key];
      if (Array.isArray(v)) {
        items = v;
        break;
      }
    }
    // One level of nesting: { data: { items: [...], total } }.
    if (items === undefined) {
      for (const key of RECORD_KEYS) {
        const inner = body[key];
        if (!isObject(inner)) continue;
        for (const k of RECORD_KEYS) {
          const v = inner[k];
          if (Array.isArray(v)) {
            items = v;
            metaSources.push(inner);
            break;
          }
        }
        if (items) break;
      }
    }
    for (const o of [...metaSources]) {
      for (const key of META_CONTAINERS) {
        const inner = o[key];
        if (isObject(inner)) metaSources.push(inner);
      }
    }
  } else {
    throw new ListShapeError(`the body is ${body === null ? 'null' : typeof body}, not an array or object`, body);
  }

  if (items === undefined) {
    const keys = Object.keys(body as Obj).slice(0, 10).join(', ') || 'none';
    throw new ListShapeError(`no array of records found (keys: ${keys})`, body);
  }

  const records = items.map((item, i) => readRecord(item, i, body));

  const meta: ListMeta = {};
  let total = firstCount(metaSources, TOTAL_KEYS);
  if (total === undefined) {
    // `count` is ambiguous: a total, or the size of this page. Only a count larger than the
    // page is surely a total; otherwise it is not trusted to end the listing (that costs one
    // extra request at most, where trusting it wrongly would miss images).
    const count = firstCount(metaSources, ['count']);
    if (count !== undefined && count > records.length) total = count;
  }
  if (total !== undefined) meta.total = total;
  const totalPages = firstCount(metaSources, TOTAL_PAGES_KEYS);
  if (totalPages !== undefined) meta.totalPages = totalPages;
  const hasMore = readHasMore(metaSources);
  if (hasMore !== undefined) meta.hasMore = hasMore;
  const page = firstCount(metaSources, PAGE_KEYS);
  if (page !== undefined) meta.page = page;

  return { records, meta };
}

export type EndReason = 'empty' | 'repeated' | 'has_more_false' | 'last_page' | 'total_reached';

export interface EndCheck {
  /** Ids of the previous page, in order; undefined for the first page. */
  previousIds?: readonly string[];
  /** This page, parsed. */
  current: ParsedListPage;
  /** The page number just read (as sent in `page=`, 1-based). */
  page: number;
  /** The page_size asked for (informational: a short page is NOT the end by itself). */
  pageSize?: number;
  /** Distinct records seen so far, this page included. */
  seen: number;
}

/**
 * Why the listing ends after this page, or null to read the next one.
 * Ends at an empty page, a page repeating the previous one, or where the metadata says so:
 * has-more false; page ≥ total pages; records seen ≥ total (counted, not page × page_size,
 * because the server may cap the page size). An explicit has-more true overrides the totals.
 */
export function endOfListing(check: EndCheck): EndReason | null {
  const { current, previousIds, page, seen } = check;
  if (current.records.length === 0) return 'empty';
  if (previousIds && sameIds(previousIds, current.records)) return 'repeated';
  const { meta } = current;
  if (meta.hasMore === false) return 'has_more_false';
  if (meta.hasMore === true) return null;
  if (meta.totalPages !== undefined && page >= meta.totalPages) return 'last_page';
  if (meta.total !== undefined && seen >= meta.total) return 'total_reached';
  return null;
}

/** Boolean form of endOfListing. */
export function isEndOfListing(check: EndCheck): boolean {
  return endOfListing(check) !== null;
}

function sameIds(previous: readonly string[], records: readonly ListRecord[]): boolean {
  if (previous.length !== records.length) return false;
  const prev = new Set(previous);
  return records.every((r) => prev.has(r.id));
}
