/**
 * The reimage-compatible simulator: a node:http server on loopback serving `GET /user/`,
 * `GET /get/` and `POST /update/<id>` from an in-memory library, with API keys and owners,
 * a per-key token-bucket rate limit, seeded fault injection and latency (design.md §8).
 *
 * Order of decisions for an API request: stats → auth (401) → rate limit (429) → injected
 * fault (drop / 503 / 500) → routing and the request itself. Every answer, errors included,
 * waits `latencyMs + U(0, jitterMs)` first. `/_sim/*` control routes skip all of that.
 *
 * Listings that misbehave as real ones do: `listOrder` (by last modification, re-evaluated for
 * every page request, so page-number paging while writing skips and repeats images),
 * `pageOverlap` (pages after the first start N records early; `total` stays true) and
 * `pastEnd: '404'` (a page after the last one is a 404 rather than an empty page).
 */
import { createServer, type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../errors.js';
import type { Library } from './library.js';
import { renderPage, type PageRecord } from './list-shapes.js';
import { resolveSimOptions, type ResolvedSimOptions } from './options.js';
import { createRandom, type Random } from './prng.js';
import { buildLibrary, readSeedFile, SeedError } from './seed.js';
import { StatsRecorder } from './stats.js';
import { TokenBucket, type TakeResult } from './token-bucket.js';
import type { SimOptions, Simulator } from './types.js';

/** Largest accepted update body. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Default `page_size` when the query has none (the docs' only example uses 20). */
const DEFAULT_PAGE_SIZE = 20;

const ENDPOINT_USER = 'GET /user/';
const ENDPOINT_LIST = 'GET /get/';
const ENDPOINT_UPDATE = 'POST /update/';
const ENDPOINT_OTHER = 'other';

/** Per-request random draws, always all taken so the sequence does not depend on which faults are on. */
interface Draws {
  jitter: number;
  drop: number;
  busy: number;
  error5xx: number;
  afterApply: number;
}

export async function startSimulator(opts: SimOptions = {}): Promise<Simulator> {
  const o = resolveSimOptions(opts);
  let library: Library;
  try {
    const seed = o.seedFile !== undefined ? readSeedFile(o.seedFile) : undefined;
    library = buildLibrary({ seed, generate: o.generate, keys: o.keys, prngSeed: o.seed });
  } catch (err) {
    if (err instanceof SeedError) throw new UsageError(`simulator seed: ${err.message}`, { cause: err });
    throw err;
  }
  library.listOrder = o.listOrder;
  if (o.listOrder !== 'id') library.prepareModifiedOrders();
  const handler = new Handler(o, library);
  const server = createServer((req, res) => handler.handle(req, res));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new UsageError(`simulator: port ${o.port} on ${o.host} is already in use`, { cause: err }));
      else if (err.code === 'EACCES') reject(new UsageError(`simulator: not allowed to listen on ${o.host}:${o.port}`, { cause: err }));
      else reject(err);
    };
    server.once('error', onError);
    server.listen(o.port, o.host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${hostPart}:${address.port}`,
    port: address.port,
    library,
    stats: () => handler.stats.snapshot(),
    resetStats: () => handler.stats.reset(),
    close() {
      closing ??= new Promise<void>((resolve) => {
        handler.shutdown();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

class Handler {
  readonly stats = new StatsRecorder();
  private readonly random: Random;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly o: ResolvedSimOptions,
    private readonly library: Library,
  ) {
    this.random = createRandom(o.seed);
  }

  shutdown(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = q < 0 ? '' : rawUrl.slice(q + 1);
    const method = req.method ?? 'GET';

    if (path.startsWith('/_sim/')) {
      this.control(method, path, res);
      return;
    }

    const done = this.stats.begin(method, endpointOf(method, path));
    res.once('close', done);
    const r = this.random;
    const draws: Draws = { jitter: r(), drop: r(), busy: r(), error5xx: r(), afterApply: r() };
    const delay = this.o.latencyMs + draws.jitter * this.o.jitterMs;

    const key = bearerKey(req.headers.authorization);
    const owner = key === undefined ? undefined : this.library.ownerOfKey(key);
    if (key === undefined || owner === undefined) {
      this.answer(res, delay, 401, { error: 'Unauthorized' });
      return;
    }

    let limitHeaders: OutgoingHttpHeaders | undefined;
    if (this.o.rateLimit > 0) {
      const taken = this.bucketFor(key).take(performance.now());
      if (this.o.rateLimitHeaders) limitHeaders = this.rateLimitHeaders(taken);
      if (!taken.ok) {
        const retryAfter = Math.max(1, Math.ceil(taken.waitSeconds - 1e-9));
        this.answer(res, delay, 429, { error: 'Too Many Requests' }, { ...limitHeaders, 'Retry-After': String(retryAfter) });
        return;
      }
    }

    if (draws.drop < this.o.dropRate) {
      this.stats.fault('drop');
      this.later(delay, () => req.socket.destroy());
      return;
    }
    if (draws.busy < this.o.busyRate) {
      this.stats.fault('busy');
      this.answer(res, delay, 503, { error: 'Service Unavailable' }, { ...limitHeaders, 'Retry-After': '1' });
      return;
    }
    if (draws.error5xx < this.o.error5xxRate) {
      this.stats.fault('error5xx');
      this.answer(res, delay, 500, { error: 'Internal server error' }, limitHeaders);
      return;
    }

    if (path === '/user/') {
      if (method !== 'GET') return this.notAllowed(res, delay, 'GET', limitHeaders);
      this.answer(res, delay, 200, this.userInfo(owner), limitHeaders);
    } else if (path === '/get/') {
      if (method !== 'GET') return this.notAllowed(res, delay, 'GET', limitHeaders);
      this.list(owner, query, res, delay, limitHeaders);
    } else if (path.startsWith('/update/')) {
      if (method !== 'POST') return this.notAllowed(res, delay, 'POST', limitHeaders);
      this.update(owner, path.slice('/update/'.length), draws, req, res, delay, limitHeaders);
    } else {
      this.answer(res, delay, 404, { error: 'Not found' }, limitHeaders);
    }
  }

  private userInfo(owner: string): unknown {
    const record = this.library.owner(owner)!;
    const count = this.library.countOf(owner);
    return {
      name: record.name,
      bucket_id: record.bucket_id,
      avatar: `https://files.reimage.dev/avatars/${encodeURIComponent(record.name)}.png`,
      image_count: count,
      storage_used: count * 180,
      storage_limit: 50_000_000,
      video_storage_used: 0,
      video_storage_limit: 600,
      transform_count: count * 3,
      subscription_tier: record.subscription_tier,
    };
  }

  private list(owner: string, query: string, res: ServerResponse, delay: number, headers: OutgoingHttpHeaders | undefined): void {
    const params = new URLSearchParams(query);
    const page = positiveInt(params.get('page'), 1);
    const asked = positiveInt(params.get('page_size'), DEFAULT_PAGE_SIZE);
    if (page === undefined || asked === undefined) {
      const which = page === undefined ? 'page' : 'page_size';
      this.answer(res, delay, 400, { error: `${which} must be a positive integer` }, headers);
      return;
    }
    const pageSize = Math.min(asked, this.o.maxPageSize);
    const order = this.o.listOrder;
    let listing = this.library.listing(owner, order);
    // Optional `tags` filter (the docs' example): images carrying every listed tag. O(n), rarely used.
    const filter = (params.get('tags') ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '');
    if (filter.length > 0) {
      const kept: string[] = [];
      this.library.forEachListed(owner, order, (id) => {
        const tags = this.library.entry(id)!.tags;
        if (filter.every((t) => tags.includes(t))) kept.push(id);
      });
      listing = { length: kept.length, at: (i) => kept[i]! };
    }
    const total = listing.length;
    // Page p covers positions (p-1)·size … p·size-1; with an overlap, pages after the first start
    // `pageOverlap` positions early. A page whose own start is past the end is past the end.
    const nominalStart = (page - 1) * pageSize;
    if (page > 1 && nominalStart >= total && this.o.pastEnd === '404') {
      this.answer(res, delay, 404, { error: 'Not found' }, headers);
      return;
    }
    const start = page > 1 && nominalStart < total ? Math.max(0, nominalStart - this.o.pageOverlap) : nominalStart;
    const end = Math.min(total, nominalStart + pageSize);
    const records: PageRecord[] = [];
    for (let i = start; i < end; i++) {
      const id = listing.at(i);
      records.push({ id, tags: this.library.entry(id)!.tags });
    }
    const body = renderPage(this.o.listShape, records, {
      page,
      pageSize,
      total,
      bucketId: this.library.owner(owner)!.bucket_id,
    });
    this.answer(res, delay, 200, body, headers);
  }

  private update(
    owner: string,
    rawId: string,
    draws: Draws,
    req: IncomingMessage,
    res: ServerResponse,
    delay: number,
    headers: OutgoingHttpHeaders | undefined,
  ): void {
    // A raw "/" means the client did not encode the id: the real route would not match either.
    if (rawId === '' || rawId.includes('/')) {
      this.answer(res, delay, 404, { error: 'Not found' }, headers);
      return;
    }
    let id: string;
    try {
      id = decodeURIComponent(rawId);
    } catch {
      this.answer(res, delay, 400, { error: 'Malformed object id in path' }, headers);
      return;
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) {
        this.answer(res, delay, 413, { error: 'Request body too large' }, headers);
        return;
      }
      const problem = contentTypeProblem(req.headers['content-type']);
      if (problem) {
        this.answer(res, delay, 400, { error: problem }, headers);
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        this.answer(res, delay, 400, { error: 'Request body is not valid JSON' }, headers);
        return;
      }
      const tags = (body as { tags?: unknown } | null)?.tags;
      if (typeof body !== 'object' || body === null || Array.isArray(body) || !Array.isArray(tags)) {
        this.answer(res, delay, 400, { error: 'tags is required and must be an array' }, headers);
        return;
      }
      if (!tags.every((t): t is string => typeof t === 'string')) {
        this.answer(res, delay, 400, { error: 'tags must be an array of strings' }, headers);
        return;
      }
      const entry = this.library.entry(id);
      if (!entry) {
        this.answer(res, delay, 404, { error: 'Image not found' }, headers);
        return;
      }
      if (entry.owner !== owner) {
        this.answer(res, delay, 403, { error: 'Forbidden' }, headers);
        return;
      }
      this.library.replaceTags(id, tags);
      this.stats.applied(id);
      if (draws.afterApply < this.o.faultAfterApplyRate) {
        this.stats.fault('faultAfterApply');
        this.answer(res, delay, 500, { error: 'Internal server error' }, headers);
        return;
      }
      this.answer(res, delay, 200, undefined, headers);
    });
  }

  private notAllowed(res: ServerResponse, delay: number, allow: string, headers: OutgoingHttpHeaders | undefined): void {
    this.answer(res, delay, 405, { error: 'Method not allowed' }, { ...headers, Allow: allow });
  }

  private bucketFor(key: string): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.o.rateLimit, this.o.burst, performance.now());
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /**
   * The quota is the bucket: `Limit` tokens, `Remaining` left, `Reset` seconds until full again
   * (delta seconds, not an epoch). `RateLimit-Policy` states the refill: burst per burst/rate s.
   */
  private rateLimitHeaders(t: TakeResult): OutgoingHttpHeaders {
    const limit = String(Math.floor(this.o.burst));
    const remaining = String(t.remaining);
    const reset = String(Math.ceil(t.fullSeconds - 1e-9));
    const window = round3(this.o.burst / this.o.rateLimit);
    return {
      'RateLimit-Limit': limit,
      'RateLimit-Remaining': remaining,
      'RateLimit-Reset': reset,
      'RateLimit-Policy': `${limit};w=${window}`,
      'X-RateLimit-Limit': limit,
      'X-RateLimit-Remaining': remaining,
      'X-RateLimit-Reset': reset,
    };
  }

  /** Send JSON (or an empty 200 body when `body` is undefined) after the latency. */
  private answer(res: ServerResponse, delay: number, status: number, body: unknown, headers?: OutgoingHttpHeaders): void {
    this.later(delay, () => {
      if (res.destroyed || res.headersSent) return;
      this.stats.status(status);
      if (body === undefined) {
        res.writeHead(status, { ...headers, 'Content-Length': '0' });
        res.end();
        return;
      }
      const text = JSON.stringify(body);
      res.writeHead(status, {
        ...headers,
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(text)),
      });
      res.end(text);
    });
  }

  private later(delay: number, fn: () => void): void {
    if (this.stopped) return;
    if (delay <= 0) {
      fn();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, delay);
    this.timers.add(timer);
  }

  /** `/_sim/*`: no auth, no rate limit, no faults, not counted. */
  private control(method: string, path: string, res: ServerResponse): void {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
      res.end(text);
    };
    if (path === '/_sim/stats' && method === 'GET') send(200, this.stats.snapshot());
    else if (path === '/_sim/library' && method === 'GET') send(200, this.library.dump());
    else if (path === '/_sim/reset-stats' && method === 'POST') {
      this.stats.reset();
      send(200, { ok: true });
    } else send(404, { error: 'Not found' });
  }
}

function endpointOf(method: string, path: string): string {
  if (method === 'GET' && path === '/user/') return ENDPOINT_USER;
  if (method === 'GET' && path === '/get/') return ENDPOINT_LIST;
  if (method === 'POST' && path.startsWith('/update/')) return ENDPOINT_UPDATE;
  return ENDPOINT_OTHER;
}

/** The key from `Authorization: Bearer <key>` (scheme case-insensitive), or undefined. */
function bearerKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

/** Parse a positive integer query value; `fallback` when absent or empty, undefined when invalid. */
function positiveInt(value: string | null, fallback: number): number | undefined {
  if (value === null || value === '') return fallback;
  if (!/^\d{1,9}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 ? n : undefined;
}

/** Updates are JSON: a missing or different media type is a 400 (the client must send it). */
function contentTypeProblem(contentType: string | undefined): string | undefined {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (media === 'application/json') return undefined;
  return contentType === undefined
    ? 'Content-Type must be application/json (none was sent)'
    : `Content-Type must be application/json, got ${JSON.stringify(contentType.slice(0, 100))}`;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
