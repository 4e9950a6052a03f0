/**
 * The body of a `GET /get/` page in each configurable shape. The real response is undocumented
 * (reimage-api.md §3.1), so the simulator can serve any shape the client claims to accept:
 *
 * - `object`: `{"data":[{object_id, object_url, tags}], "page", "page_size", "total", "total_pages"}`;
 * - `array`: a top-level array of `{object_id, tags}`, no metadata (the client pages to an empty page);
 * - `images`: `{"images":[{id, tags:"a,b"}], "page", "has_more"}`: `id` key, comma-joined tags, a has-more flag;
 * - `items-nometa`: `{"items":[{object_id, tags}]}`, no metadata at all.
 */
import type { ListShape } from './types.js';

export interface PageRecord {
  id: string;
  tags: readonly string[];
}

export interface PageMeta {
  page: number;
  /** The page size actually served (after capping). */
  pageSize: number;
  total: number;
  bucketId: string;
}

export function renderPage(shape: ListShape, records: readonly PageRecord[], meta: PageMeta): unknown {
  switch (shape) {
    case 'object':
      return {
        data: records.map((r) => ({
          object_id: r.id,
          object_url: `https://files.reimage.dev/${meta.bucketId}/${encodeURIComponent(r.id)}/`,
          tags: r.tags,
        })),
        page: meta.page,
        page_size: meta.pageSize,
        total: meta.total,
        total_pages: Math.ceil(meta.total / meta.pageSize),
      };
    case 'array':
      return records.map((r) => ({ object_id: r.id, tags: r.tags }));
    case 'images':
      return {
        images: records.map((r) => ({ id: r.id, tags: r.tags.join(',') })),
        page: meta.page,
        has_more: meta.page * meta.pageSize < meta.total,
      };
    case 'items-nometa':
      return { items: records.map((r) => ({ object_id: r.id, tags: r.tags })) };
  }
}
