/**
 * Public types of the reimage-compatible simulator (design.md §8).
 * The tests, the demo and the benchmark start it in-process through `startSimulator`.
 */

/** How `GET /get/` shapes a page, to exercise the client's defensive list parser. */
export type ListShape = 'object' | 'array' | 'images' | 'items-nometa';

export const LIST_SHAPES: readonly ListShape[] = ['object', 'array', 'images', 'items-nometa'];

/**
 * The order of `GET /get/` (design.md §3 "A listing that moves"):
 * - `id`: seed/insertion order (by id for the bundled fixtures and generated images); never moves;
 * - `modified-asc`: by last modification, oldest first: every applied update (and `setTags`, `add`)
 *   moves the image to the end, as a real "order by updated_at" would. Seeded images count as
 *   modified in seed order, so before any write this is the same as `id`;
 * - `modified-desc`: most recently modified first (before any write: reverse seed order).
 * The order is evaluated per request: page N is cut from the order at the time it is asked for.
 */
export type ListOrder = 'id' | 'modified-asc' | 'modified-desc';

export const LIST_ORDERS: readonly ListOrder[] = ['id', 'modified-asc', 'modified-desc'];

/** How `GET /get/` answers a page after the last one: an empty page (200) or a 404. */
export type PastEnd = 'empty' | '404';

export const PAST_END_MODES: readonly PastEnd[] = ['empty', '404'];

export interface SimOptions {
  /** Loopback address to bind (127.0.0.1, ::1 or localhost). Default 127.0.0.1; anything else is refused. */
  host?: string;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** JSON seed library (see fixtures/library.json for the format). */
  seedFile?: string;
  /** Append N generated images `img-000001`… owned by alice (benchmarks). Default 0. */
  generate?: number;
  /** Extra API keys, key → owner, merged over the seed's (an unknown owner is created). */
  keys?: Record<string, string>;
  /** Requests per second per key (token bucket); 0/undefined = unlimited. Fractions allowed. */
  rateLimit?: number;
  /** Bucket size; default max(1, rateLimit). */
  burst?: number;
  /** Add RateLimit-* and X-RateLimit-* headers to every rate-limited response. Default false. */
  rateLimitHeaders?: boolean;
  /** Shape of `GET /get/` pages. Default 'object'. */
  listShape?: ListShape;
  /** Largest page served; a larger page_size is capped silently. Default 100. */
  maxPageSize?: number;
  /** Order of `GET /get/`; see `ListOrder`. Default 'id'. */
  listOrder?: ListOrder;
  /**
   * Pages after the first start this many records early (page p > 1 holds positions
   * `(p-1)·size − N … p·size − 1`), so consecutive pages share N records, while `total`,
   * `total_pages` and `has_more` stay true. A page past the end is still past the end. Default 0.
   */
  pageOverlap?: number;
  /** A page after the first that starts past the last image: 'empty' (200, no records, default) or '404'. */
  pastEnd?: PastEnd;
  /** Probability (0..1) of answering 500 without applying anything. */
  error5xxRate?: number;
  /** Probability (0..1) that an update is applied and then answered 500. */
  faultAfterApplyRate?: number;
  /** Probability (0..1) of destroying the socket without answering. */
  dropRate?: number;
  /** Probability (0..1) of answering 503 with `Retry-After: 1`. */
  busyRate?: number;
  /** Fixed delay before every API answer, in ms. Default 0. */
  latencyMs?: number;
  /** Uniform extra delay 0..jitterMs added to latencyMs. Default 0. */
  jitterMs?: number;
  /** PRNG seed for faults, jitter and generated tags; same seed + same request order = same faults. */
  seed?: number;
}

/** An image as the in-process API hands it out (a copy: mutating it changes nothing). */
export interface SimImage {
  id: string;
  owner: string;
  tags: string[];
}

export interface SimOwner {
  name: string;
  bucket_id: string;
  subscription_tier: number;
}

/** Counters since start or the last reset. `GET /_sim/*` requests are not counted. */
export interface SimStats {
  /** Every API request received (authenticated or not, answered or dropped). */
  requests: number;
  /** Per endpoint: `GET /user/`, `GET /get/`, `POST /update/`, `other`. */
  byEndpoint: Record<string, number>;
  /** Per HTTP method (a DELETE here means the client did something it must never do). */
  byMethod: Record<string, number>;
  /** Per answered status code (`"200"`, `"429"`…); dropped connections are under `dropped`. */
  byStatus: Record<string, number>;
  /** 429 answers. */
  rateLimited: number;
  /** Injected faults by kind. */
  faults: { error5xx: number; faultAfterApply: number; drop: number; busy: number };
  /** API requests currently being handled (arrived, not yet answered or dropped). */
  inFlight: number;
  /** The highest `inFlight` observed. */
  maxInFlight: number;
  /** Updates applied to the library through `POST /update/` (including those answered 500 after apply). */
  updatesApplied: number;
  /** id → number of applied writes. */
  appliedById: Record<string, number>;
  /** Ids written more than once (should be empty after a clean run). */
  writtenMoreThanOnce: string[];
  /** Epoch ms of the first and last API request, null before any. */
  firstRequestAt: number | null;
  lastRequestAt: number | null;
}

/** The library behind the simulator, shared by the HTTP handlers and in-process callers. */
export interface SimLibrary {
  /** Number of images (all owners). */
  readonly size: number;
  /** A copy of the image, or undefined. */
  get(id: string): SimImage | undefined;
  /**
   * Replace an image's tags as someone else would (not counted in stats); a modification, so under a
   * `modified-*` order the image moves like after `POST /update/`. Throws on an unknown id.
   */
  setTags(id: string, tags: readonly string[]): void;
  /** Add an image at the end of its owner's listing (the start under `modified-desc`). Throws on a duplicate id or unknown owner. */
  add(image: SimImage): void;
  /** Remove an image (as if deleted). Returns whether it existed. */
  remove(id: string): boolean;
  /** The owner's image ids in the order `GET /get/` lists them now (the simulator's `listOrder` unless `order` is given; a copy). */
  ids(owner: string, order?: ListOrder): string[];
  /** Owner name for an API key, or undefined. */
  ownerOfKey(key: string): string | undefined;
  /** Owner record, or undefined. */
  owner(name: string): SimOwner | undefined;
  /** key → owner for every key. */
  keys(): Record<string, string>;
  /** `{id: {owner, tags}}` for every image. */
  dump(): Record<string, { owner: string; tags: string[] }>;
}

export interface Simulator {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  stats(): SimStats;
  resetStats(): void;
  library: SimLibrary;
  /** Stops listening and closes every connection, idle keep-alive ones included. Idempotent. */
  close(): Promise<void>;
}
