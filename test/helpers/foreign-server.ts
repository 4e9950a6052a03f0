/**
 * A reimage-compatible server that is NOT this project's simulator: built on the recording
 * server (every request recorded), with its own idea of the undocumented parts of the API
 * (reimage-api.md §3.1), so the client is proven against a server it was not written with:
 *
 * - `GET /get/?page=N&page_size=P` (pages from 1) answers a bare top-level array (`shape:
 *   'array'`, records `{id, tags}`) or `{"results": [...]}` (`shape: 'results'`, records
 *   `{object_id, tags}`), with NO paging metadata at all; tags as a comma-joined string
 *   (`tagsAs: 'string'`, the default) or an array; page_size silently capped (default 7); a page
 *   past the end is empty.
 * - `POST /update/<id>` replaces the tags and answers 200 with a JSON body (the sim answers an
 *   empty one); 404 for an unknown id, 403 for an image the key may read but not write.
 * - Optionally: a page past the end repeats the last page (`pastEnd: 'repeat-last'`); the API
 *   under a path prefix (`prefix: '/api'`).
 * - Keys map to owners; a listing shows the owner's images plus images `sharedWith` that owner
 *   (readable, not writable: a write gets 403). `vanishOnUpdate` ids are listed but answer 404
 *   to a write, as if deleted between the read and the write.
 */
import { createRecordingServer, type RecordedRequest, type RecordingServer, type ReplySpec } from './recording-server.js';

export interface ForeignImage {
  id: string;
  owner: string;
  tags: string[];
  /** Owners who see this image in their listing but may not change it (→ 403). */
  sharedWith?: string[];
}

export interface ForeignServerOptions {
  images: ForeignImage[];
  /** API key → owner. */
  keys: Record<string, string>;
  shape?: 'array' | 'results';
  tagsAs?: 'string' | 'array';
  /** Largest page served, whatever page_size asks. Default 7. */
  maxPageSize?: number;
  /** Ids listed but gone when written (404 on update). */
  vanishOnUpdate?: string[];
  /** Answer each request after this many ms (makes in-flight counts meaningful). */
  latencyMs?: number;
  /** Past the last page: an empty page (default), or the last page again (a server that clamps `page`). */
  pastEnd?: 'empty' | 'repeat-last';
  /** Serve the API under this path prefix, e.g. `/api` (the base URL then ends with it). */
  prefix?: string;
  /** Leave `tags` out of the records of untagged images (as APIs that omit empty fields do). */
  omitEmptyTags?: boolean;
  /** Called first for every request: a reply here (a fault, a 429…) replaces the normal one. */
  intercept?: (req: RecordedRequest) => ReplySpec | undefined;
}

export interface ForeignServer {
  url: string;
  recorder: RecordingServer;
  /** Every request received (the recording server's log). */
  readonly requests: RecordedRequest[];
  /** Current tags of an image (a copy), undefined if unknown. */
  tags(id: string): string[] | undefined;
  /** Ids of every POST /update/ received, decoded, in arrival order. */
  updatesSent(): string[];
  /** GET /get/ requests received. */
  listRequests(): RecordedRequest[];
  /** Number of records each GET /get/ answered, in order. */
  pageSizesServed(): number[];
  close(): Promise<void>;
}

function bearer(req: RecordedRequest): string | undefined {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer (\S+)$/.exec(header) : null;
  return match?.[1];
}

export async function startForeignServer(options: ForeignServerOptions): Promise<ForeignServer> {
  const shape = options.shape ?? 'array';
  const tagsAs = options.tagsAs ?? 'string';
  const maxPageSize = options.maxPageSize ?? 7;
  const vanish = new Set(options.vanishOnUpdate ?? []);
  const prefix = options.prefix ?? '';
  const images = new Map(options.images.map((i) => [i.id, { ...i, tags: [...i.tags] }]));
  const served: number[] = [];
  const recorder = await createRecordingServer();

  const delayed = (spec: ReplySpec): ReplySpec => (options.latencyMs ? { ...spec, delayMs: options.latencyMs } : spec);

  recorder.handle((req) => {
    const intercepted = options.intercept?.(req);
    if (intercepted) return intercepted;
    const owner = (() => {
      const key = bearer(req);
      return key === undefined ? undefined : options.keys[key];
    })();
    if (owner === undefined) return delayed({ status: 401, body: { error: 'Unauthorized' } });

    const path = req.path.startsWith(prefix) ? req.path.slice(prefix.length) : '';
    if (req.method === 'GET' && path === '/get/') {
      const asked = Number(req.query.page_size ?? '20');
      const size = Math.min(asked, maxPageSize);
      const visible = [...images.values()].filter((i) => i.owner === owner || i.sharedWith?.includes(owner));
      const lastPage = Math.max(1, Math.ceil(visible.length / size));
      let page = Number(req.query.page ?? '1');
      if (options.pastEnd === 'repeat-last') page = Math.min(page, lastPage);
      const slice = visible.slice((page - 1) * size, page * size);
      served.push(slice.length);
      const records = slice.map((i) => {
        const tags = tagsAs === 'string' ? i.tags.join(',') : [...i.tags];
        const record: Record<string, unknown> = shape === 'array' ? { id: i.id, tags, folder: 'uploads' } : { object_id: i.id, tags, type: 'image/webp' };
        if (options.omitEmptyTags && i.tags.length === 0) delete record.tags;
        return record;
      });
      return delayed({ status: 200, body: shape === 'array' ? records : { results: records } });
    }

    if (req.method === 'POST' && path.startsWith('/update/')) {
      const id = decodeURIComponent(path.slice('/update/'.length));
      const tags = (req.json as { tags?: unknown } | undefined)?.tags;
      if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
        return delayed({ status: 400, body: { error: 'tags must be an array of strings' } });
      }
      const image = images.get(id);
      if (!image || vanish.has(id)) return delayed({ status: 404, body: { error: 'Image not found' } });
      if (image.owner !== owner) return delayed({ status: 403, body: { error: 'Forbidden' } });
      image.tags = [...tags];
      return delayed({ status: 200, body: { status: 'success', object_id: id } });
    }

    return delayed({ status: 404, body: { error: 'Not found' } });
  });

  return {
    url: recorder.url + prefix,
    recorder,
    get requests() {
      return recorder.requests;
    },
    tags: (id) => {
      const image = images.get(id);
      return image ? [...image.tags] : undefined;
    },
    updatesSent: () =>
      recorder.requests
        .filter((r) => r.method === 'POST' && r.path.startsWith(`${prefix}/update/`))
        .map((r) => decodeURIComponent(r.path.slice(`${prefix}/update/`.length))),
    listRequests: () => recorder.requests.filter((r) => r.method === 'GET' && r.path === `${prefix}/get/`),
    pageSizesServed: () => [...served],
    close: () => recorder.close(),
  };
}
