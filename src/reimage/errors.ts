/**
 * Typed errors of the reimage client (style.md §4: errors carry context, not sockets).
 *
 *   ReimageError            base: anything the client reports
 *   ├─ RequestError         one HTTP attempt failed (method, path, attempt)
 *   │  ├─ HttpError         the server answered with a non-2xx status
 *   │  ├─ NetworkError      no answer: reset, refused, DNS, socket hang-up
 *   │  └─ TimeoutError      no answer within --timeout
 *   └─ ListShapeError       a /get/ response this tool does not understand
 *
 * Invariants: the API key never reaches a message or a field (the client redacts server text
 * before building an error); heavy things (the original error, a 2 KB body excerpt) are
 * non-enumerable so `JSON.stringify` and loggers do not dump them.
 */
import { STATUS_CODES } from 'node:http';

/** Longest server text kept on an HttpError. */
export const BODY_EXCERPT_MAX = 200;
/** Longest response excerpt kept on a ListShapeError. */
export const LIST_EXCERPT_MAX = 2048;

/** Define a property that `JSON.stringify`, `Object.keys` and loggers skip. */
function hide<T extends object>(target: T, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: false, writable: true, configurable: true });
}

/** Base class: every error the reimage client throws. */
export class ReimageError extends Error {
  override name = 'ReimageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    // Installed by hand so it stays non-enumerable whatever the target's Error semantics.
    if (options && 'cause' in options) hide(this, 'cause', options.cause);
  }
}

/** One request attempt that did not succeed. `attempt` is set by the runner (1 = first try). */
export class RequestError extends ReimageError {
  override name = 'RequestError';
  readonly method: string;
  /** Request path (with the query), credentials redacted. Never the full URL with userinfo. */
  readonly path: string;
  attempt: number;
  constructor(message: string, init: { method: string; path: string; attempt?: number; cause?: unknown }) {
    super(message, 'cause' in init ? { cause: init.cause } : undefined);
    this.method = init.method;
    this.path = init.path;
    this.attempt = init.attempt ?? 1;
  }
}

export interface HttpErrorInit {
  method: string;
  path: string;
  status: number;
  /** Raw response body text (already redacted by the caller). */
  body?: string;
  /** Response headers; only Retry-After and rate-limit headers are kept. */
  headers?: Record<string, string | string[] | undefined>;
  contentType?: string;
  attempt?: number;
}

/** The server answered with a non-2xx status. */
export class HttpError extends RequestError {
  override name = 'HttpError';
  readonly status: number;
  /** Reason phrase for the status (from Node's table; the wire's phrase is not kept). */
  readonly statusText: string;
  /** ≤ 200 chars: the server's `error` text when the body is JSON, else the raw body, whitespace collapsed. */
  readonly bodyExcerpt: string;
  /** Lower-cased `retry-after`, `ratelimit*` and `x-ratelimit*` headers, values joined with ", ". */
  readonly headers: Record<string, string>;

  constructor(init: HttpErrorInit) {
    const statusText = STATUS_CODES[init.status] ?? 'Unknown Status';
    const { excerpt, detail } = describeErrorBody(init.body ?? '', init.contentType);
    const what = `HTTP ${init.status} ${statusText} on ${init.method} ${init.path}`;
    super(detail && detail !== statusText ? `${what}: ${detail}` : what, init);
    this.status = init.status;
    this.statusText = statusText;
    this.bodyExcerpt = excerpt;
    this.headers = pickRateLimitHeaders(init.headers ?? {});
  }
}

/** Connection-level failure: the request got no HTTP answer. */
export class NetworkError extends RequestError {
  override name = 'NetworkError';
  /** ECONNRESET, ECONNREFUSED, ENOTFOUND, EAI_AGAIN, UND_ERR_SOCKET, … ('UNKNOWN' when absent). */
  readonly code: string;
  constructor(init: { method: string; path: string; code: string; detail?: string; cause?: unknown; attempt?: number }) {
    const detail = init.detail && init.detail !== init.code ? ` (${init.detail})` : '';
    super(`network error ${init.code} on ${init.method} ${init.path}${detail}`, init);
    this.code = init.code;
  }
}

/** The request did not finish within the timeout (connect, headers or body phase). */
export class TimeoutError extends RequestError {
  override name = 'TimeoutError';
  readonly timeoutMs: number;
  readonly phase: 'connect' | 'headers' | 'body' | 'total';
  constructor(init: {
    method: string;
    path: string;
    timeoutMs: number;
    phase?: TimeoutError['phase'];
    cause?: unknown;
    attempt?: number;
  }) {
    const phase = init.phase ?? 'total';
    super(`timeout after ${init.timeoutMs} ms (${phase}) on ${init.method} ${init.path}`, init);
    this.timeoutMs = init.timeoutMs;
    this.phase = phase;
  }
}

/** A /get/ response in a shape this tool does not recognise. Carries the first 2 KB of it. */
export class ListShapeError extends ReimageError {
  override name = 'ListShapeError';
  /** The first 2 KB of the response (non-enumerable: it can be large and holds library data). */
  declare readonly excerpt: string;
  /** What was wrong, in a phrase. */
  readonly reason: string;
  constructor(reason: string, body: unknown) {
    super(
      `unrecognised /get/ response: ${reason}. Expected an array of records, or an object holding ` +
        'them under data, images, items, results or objects; each record with object_id (or id) and tags.',
    );
    this.reason = reason;
    hide(this, 'excerpt', excerptOf(body, LIST_EXCERPT_MAX));
  }
}

/** First `max` characters of a body, whatever its type. */
export function excerptOf(body: unknown, max: number): string {
  let text: string;
  if (typeof body === 'string') text = body;
  else {
    try {
      text = JSON.stringify(body) ?? String(body);
    } catch {
      text = String(body);
    }
  }
  return text.length > max ? text.slice(0, max) : text;
}

function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * `excerpt`: what goes on `bodyExcerpt`. `detail`: what the message shows after the status:
 * the server's `error` (or `message`) text for JSON, the text for short plain bodies, nothing
 * for HTML or empty bodies (the status line speaks for them).
 */
export function describeErrorBody(body: string, contentType?: string): { excerpt: string; detail: string } {
  const trimmed = body.trim();
  if (trimmed === '') return { excerpt: '', detail: '' };
  if (trimmed.startsWith('{') || trimmed.startsWith('[') || /json/i.test(contentType ?? '')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      const text = serverText(parsed);
      if (text !== undefined) {
        const excerpt = truncate(text, BODY_EXCERPT_MAX);
        return { excerpt, detail: excerpt };
      }
      return { excerpt: truncate(trimmed, BODY_EXCERPT_MAX), detail: '' };
    } catch {
      // fall through: not JSON after all
    }
  }
  const excerpt = truncate(trimmed, BODY_EXCERPT_MAX);
  const html = trimmed.startsWith('<') || /html/i.test(contentType ?? '');
  return { excerpt, detail: html ? '' : excerpt };
}

function serverText(parsed: unknown): string | undefined {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const o = parsed as Record<string, unknown>;
  if (typeof o.error === 'string') return o.error;
  if (o.error && typeof o.error === 'object') {
    const m = (o.error as Record<string, unknown>).message;
    if (typeof m === 'string') return m;
  }
  if (typeof o.message === 'string') return o.message;
  return undefined;
}

/** Keep only Retry-After and rate-limit headers (lower-cased names). */
export function pickRateLimitHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === 'retry-after' || lower.startsWith('ratelimit') || lower.startsWith('x-ratelimit')) {
      out[lower] = Array.isArray(value) ? value.join(', ') : String(value);
    }
  }
  return out;
}
