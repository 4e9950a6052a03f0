/**
 * The reimage.dev HTTP client: one attempt per call (retries belong to the runner's queue),
 * typed errors, no secrets in anything it throws.
 *
 * Transport: one undici Pool for the API origin, `connections = concurrency`, keep-alive,
 * pipelining 1 (an /update/ is a POST: never pipeline it). Reads use undici's `request()`
 * (rather than fetch: less per-request machinery, bodies consumed by hand). Updates, the bulk of
 * a run, go through `pool.dispatch()` with a plain handler (see `post`): no body stream, no
 * async resource, headers looked at only for what the rate controller needs; an update's empty
 * 2xx body is dropped, never parsed or kept.
 */
import { inspect } from 'node:util';
import { Pool, util as undiciUtil } from 'undici';
import type { Dispatcher } from 'undici';
import { UsageError } from '../errors.js';
import { assertUsableKey, redactKey, REDACTED } from './credentials.js';
import {
  HttpError,
  ListShapeError,
  NetworkError,
  ReimageError,
  TimeoutError,
  excerptOf,
  LIST_EXCERPT_MAX,
  pickRateLimitHeaders,
} from './errors.js';
import { parseListPage } from './list-parse.js';
import type { ParsedListPage } from './list-parse.js';
import { isLoopbackHost } from '../net.js';

export interface ClientOptions {
  /** API base, e.g. https://api.reimage.dev (a path prefix is kept). Must pass assertSafeBaseUrl. */
  baseUrl: string;
  apiKey: string;
  /** Connections in the pool = requests in flight at most. */
  concurrency: number;
  /** Per-request timeout (connect, time to headers, and body idle), ms. */
  timeoutMs: number;
  userAgent?: string;
  /**
   * Called once per response (any status) with its pacing headers, for the rate controller.
   * Must not throw (an exception is ignored).
   */
  onResponse?: (info: ResponseInfo) => void;
  /**
   * Called as an update's request is handed to its socket (after any wait for a connection):
   * strict rate spacing counts from here. If it returns a function, that is called when the
   * request's answer (its status line and headers) arrives. Must not throw (an exception is ignored).
   */
  onWrite?: () => unknown;
}

export interface ResponseInfo {
  method: string;
  path: string;
  status: number;
  /** Lower-cased Retry-After / RateLimit-* / X-RateLimit-* headers; often empty. */
  headers: Record<string, string>;
}

export interface ListPage extends ParsedListPage {
  /** HTTP status of the response (2xx). */
  status: number;
  /** The page and page_size asked for. */
  page: number;
  pageSize: number;
}


/**
 * Refuse a base URL over which the API key would travel in clear text: only https://, or
 * http:// to a loopback host (127.0.0.0/8, localhost, [::1]) such as the simulator.
 * Returns the parsed URL. Throws UsageError saying why.
 */
export function assertSafeBaseUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    throw new UsageError(`--base-url ${JSON.stringify(String(url))} is not a valid URL (expected e.g. https://api.reimage.dev)`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new UsageError('--base-url must not contain a user name or password; the API key is sent as a bearer token');
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new UsageError(`--base-url ${parsed.origin}${parsed.pathname} must not carry a query or fragment`);
  }
  if (parsed.protocol === 'https:') return parsed;
  if (parsed.protocol === 'http:') {
    if (isLoopbackHost(parsed.hostname)) return parsed;
    throw new UsageError(
      `--base-url ${parsed.origin}: refusing plain http:// to a non-loopback host, the API key would travel in ` +
        'clear text. Use https://, or http:// only to 127.0.0.1, localhost or [::1] (e.g. the simulator).',
    );
  }
  throw new UsageError(`--base-url ${JSON.stringify(parsed.href)}: only https:// (or http:// to a loopback host) is supported`);
}

const TIMEOUT_PHASES: Record<string, TimeoutError['phase']> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  UND_ERR_HEADERS_TIMEOUT: 'headers',
  UND_ERR_BODY_TIMEOUT: 'body',
};

const SECRET_PARAM = /^(?:api[-_]?key|key|token|access[-_]?token|secret|password|signature|sig|auth)$/i;

function errorCode(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code !== '') return code;
  // Happy-eyeballs connects fail with an AggregateError of the per-address errors.
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner)) for (const e of inner) {
    const c = errorCode(e);
    if (c) return c;
  }
  const cause = (err as { cause?: unknown }).cause;
  return cause && cause !== err ? errorCode(cause) : undefined;
}

/** An id as one path segment: encodeURIComponent, plus dots so "." and ".." stay ids. */
export function encodeId(id: string): string {
  const enc = encodeURIComponent(id);
  return enc === '.' || enc === '..' ? enc.replace(/\./g, '%2E') : enc;
}

/** How much of a 2xx body is drained for keep-alive before the connection is dropped (body.dump()'s limit). */
const DUMP_LIMIT = 128 * 1024;

/**
 * Only the headers pickRateLimitHeaders can keep (Retry-After, RateLimit-*, X-RateLimit-*),
 * parsed by undici's own parseHeaders: the same values as from the whole set, without building
 * it for every 2xx reply. A name is looked at only when it starts with r or x.
 */
function pacingSubset(raw: Buffer[] | string[]): Record<string, string | string[] | undefined> {
  let picked: (Buffer | string)[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const first = (typeof name === 'string' ? name.charCodeAt(0) : name[0]!) | 0x20;
    if (first === 0x72 || first === 0x78) (picked ??= []).push(name, raw[i + 1]!);
  }
  return picked ? (undiciUtil.parseHeaders(picked as Buffer[]) as Record<string, string | string[] | undefined>) : {};
}

/** An error body as text, as undici's body.text() reads it: UTF-8, a leading BOM skipped. */
function decodeBody(chunks: Buffer[]): string {
  const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  const start = buffer.length > 2 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf ? 3 : 0;
  return buffer.toString('utf8', start);
}

export class ReimageClient {
  readonly baseUrl: URL;
  private readonly pool: Pool;
  private readonly apiKey: string;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly readHeaders: Record<string, string>;
  private readonly writeHeaders: Record<string, string>;
  private readonly onResponse: ((info: ResponseInfo) => void) | undefined;
  private readonly onWrite: (() => unknown) | undefined;
  private closing: Promise<void> | undefined;

  constructor(opts: ClientOptions) {
    this.baseUrl = assertSafeBaseUrl(opts.baseUrl);
    assertUsableKey(opts.apiKey ?? '', 'the API key');
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new UsageError(`concurrency must be an integer ≥ 1 (got ${String(opts.concurrency)})`);
    }
    if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) {
      throw new UsageError(`timeout must be a positive number of milliseconds (got ${String(opts.timeoutMs)})`);
    }
    this.apiKey = opts.apiKey;
    this.timeoutMs = opts.timeoutMs;
    this.prefix = this.baseUrl.pathname.replace(/\/+$/, '');
    this.onResponse = opts.onResponse;
    this.onWrite = opts.onWrite;
    this.readHeaders = {
      authorization: `Bearer ${opts.apiKey}`,
      accept: 'application/json',
      'user-agent': opts.userAgent ?? `retag (node ${process.versions.node})`,
    };
    this.writeHeaders = { ...this.readHeaders, 'content-type': 'application/json' };
    this.pool = new Pool(this.baseUrl.origin, {
      connections: opts.concurrency,
      pipelining: 1,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connect: { timeout: opts.timeoutMs },
    });
  }

  /** One page of GET /get/?page=N&page_size=P, parsed. */
  async listPage(page: number, pageSize: number, signal?: AbortSignal): Promise<ListPage> {
    if (!Number.isInteger(page) || page < 0) throw new RangeError(`page must be an integer ≥ 0 (got ${page})`);
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new RangeError(`pageSize must be an integer ≥ 1 (got ${pageSize})`);
    }
    const path = `/get/?page=${page}&page_size=${pageSize}`;
    return this.call('GET', path, undefined, signal, async (res) => {
      const text = await res.body.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new ListShapeError(text.trim() === '' ? 'the body is empty' : 'the body is not JSON', this.redact(text));
      }
      try {
        return { ...parseListPage(body), status: res.statusCode, page, pageSize };
      } catch (err) {
        if (err instanceof ListShapeError) {
          throw new ListShapeError(this.redact(err.reason), this.redact(excerptOf(body, LIST_EXCERPT_MAX)));
        }
        throw err;
      }
    });
  }

  /** GET any API path (for a probe): parsed JSON, or the text when the body is not JSON. */
  async getRaw(path: string, signal?: AbortSignal): Promise<unknown> {
    if (!path.startsWith('/') || path.startsWith('//')) {
      throw new RangeError(`path must start with a single "/" (got ${JSON.stringify(path)})`);
    }
    return this.call('GET', path, undefined, signal, async (res) => {
      const text = await res.body.text();
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    });
  }

  /** GET /user/: account information (a preflight: 401 here means a bad key). */
  async user(signal?: AbortSignal): Promise<Record<string, unknown>> {
    const body = await this.getRaw('/user/', signal);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ReimageError(`unexpected /user/ response: ${this.redact(excerptOf(body, 200))}`);
    }
    return body as Record<string, unknown>;
  }

  /** POST /update/<id> {"tags": [...]}: replaces the image's whole tag list. */
  async update(id: string, tags: readonly string[], signal?: AbortSignal): Promise<void> {
    if (typeof id !== 'string' || id === '') throw new RangeError('update: the id is empty');
    const path = `/update/${encodeId(id)}`;
    await this.post(path, JSON.stringify({ tags }), signal);
  }

  /** Close the pool after the requests in flight finish. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.pool.close();
    return this.closing;
  }

  /** Abort everything in flight and close. */
  async destroy(): Promise<void> {
    await this.pool.destroy();
  }

  private redact(text: string): string {
    return redactKey(text, this.apiKey);
  }

  /** Retry-After and rate-limit headers, values redacted (a server could echo anything). */
  private pacingHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
    const picked = pickRateLimitHeaders(headers);
    for (const name of Object.keys(picked)) picked[name] = this.redact(picked[name]!);
    return picked;
  }

  /** A path as errors show it: key redacted, secret-looking query values blanked. */
  private safePath(path: string): string {
    const q = path.indexOf('?');
    let out = path;
    if (q >= 0) {
      const query = path
        .slice(q + 1)
        .split('&')
        .map((pair) => {
          const eq = pair.indexOf('=');
          const name = eq < 0 ? pair : pair.slice(0, eq);
          return eq >= 0 && SECRET_PARAM.test(name) ? `${name}=${REDACTED}` : pair;
        })
        .join('&');
      out = `${path.slice(0, q)}?${query}`;
    }
    return this.redact(out);
  }

  /**
   * The original error, unless its printed form holds the key (undici never puts header
   * values in its errors, but a cause is printed by util.inspect, so make sure): then a
   * plain stand-in with the redacted message and the code.
   */
  private safeCause(err: unknown, message: string, code: string | undefined): unknown {
    if (!inspect(err, { depth: 4 }).includes(this.apiKey)) return err;
    const standIn = new Error(message);
    if (code) (standIn as NodeJS.ErrnoException).code = code;
    return standIn;
  }

  /**
   * A POST whose 2xx body is dropped, on undici's dispatch() with a plain (legacy) handler: the
   * same request, timeouts (the pool's), abort, onResponse report and errors as `call`, at a
   * fraction of its CPU (no Readable body, no AsyncResource, headers parsed only for an error or
   * the few pacing headers). A 2xx body is drained for keep-alive like `body.dump()`: up to
   * 128 KiB, beyond that the connection is dropped and the write still succeeded.
   */
  private post(path: string, body: string, signal: AbortSignal | undefined): Promise<void> {
    const fullPath = this.prefix + path;
    const method = 'POST';
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(this.mapError(signal.reason, method, fullPath, signal));
        return;
      }
      let settled = false;
      let abort: ((reason: Error) => void) | undefined;
      let abortReason: Error | undefined;
      let status = 0;
      let rawHeaders: Buffer[] | string[] = [];
      // The body of an error reply (kept), or the byte count of a 2xx one (dropped).
      let chunks: Buffer[] | undefined;
      let dropped = 0;
      // What onWrite asked to be told when the answer arrives.
      let onAnswer: (() => void) | undefined;
      const onAbort = () => {
        abortReason = (signal!.reason as Error | undefined) ?? new Error('aborted');
        abort?.(abortReason);
      };
      const settle = (error?: unknown) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const handler = {
        onConnect: (abortRequest: (reason: Error) => void) => {
          abort = abortRequest;
          if (abortReason) abortRequest(abortReason);
          else if (this.onWrite) {
            try {
              const told = this.onWrite();
              if (typeof told === 'function') onAnswer = told as () => void;
            } catch {
              // a hook's failure is not the request's
            }
          }
        },
        onHeaders: (statusCode: number, raw: Buffer[] | string[]) => {
          if (onAnswer) {
            try {
              onAnswer();
            } catch {
              // a hook's failure is not the request's
            }
            onAnswer = undefined;
          }
          status = statusCode;
          rawHeaders = raw;
          const ok = status >= 200 && status < 300;
          if (!ok) chunks = [];
          if (this.onResponse) {
            try {
              const headers = ok ? pacingSubset(raw) : undiciUtil.parseHeaders(raw);
              this.onResponse({ method, path: this.safePath(fullPath), status, headers: this.pacingHeaders(headers) });
            } catch {
              // a broken observer must not fail the request
            }
          }
          return true;
        },
        onData: (chunk: Buffer) => {
          if (chunks) chunks.push(chunk);
          else if ((dropped += chunk.length) > DUMP_LIMIT && !settled) {
            // As body.dump(): a 2xx body this long is not worth reading; the write succeeded.
            settle();
            abort?.(new Error('2xx body over the drain limit'));
          }
          return true;
        },
        onComplete: () => {
          if (status >= 200 && status < 300) return settle();
          const headers = undiciUtil.parseHeaders(rawHeaders) as Record<string, string | string[] | undefined>;
          const contentType = headers['content-type'];
          settle(
            new HttpError({
              method,
              path: this.safePath(fullPath),
              status,
              body: this.redact(decodeBody(chunks ?? [])),
              headers: this.pacingHeaders(headers),
              contentType: Array.isArray(contentType) ? contentType[0] : contentType,
            }),
          );
        },
        onError: (err: Error) => {
          if (!settled) settle(this.mapError(err, method, fullPath, signal));
        },
      };
      this.pool.dispatch(
        { method, path: fullPath, headers: this.writeHeaders, body },
        handler as unknown as Dispatcher.DispatchHandler,
      );
    });
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
    onOk: (res: Dispatcher.ResponseData) => Promise<T>,
  ): Promise<T> {
    const fullPath = this.prefix + path;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({
        method,
        path: fullPath,
        headers: body === undefined ? this.readHeaders : this.writeHeaders,
        body,
        signal,
      });
    } catch (err) {
      throw this.mapError(err, method, fullPath, signal);
    }
    const status = res.statusCode;
    if (this.onResponse) {
      try {
        this.onResponse({ method, path: this.safePath(fullPath), status, headers: this.pacingHeaders(res.headers) });
      } catch {
        // a broken observer must not fail the request
      }
    }
    try {
      if (status >= 200 && status < 300) return await onOk(res);
      const text = await res.body.text();
      const contentType = res.headers['content-type'];
      throw new HttpError({
        method,
        path: this.safePath(fullPath),
        status,
        body: this.redact(text),
        headers: this.pacingHeaders(res.headers),
        contentType: Array.isArray(contentType) ? contentType[0] : contentType,
      });
    } catch (err) {
      if (err instanceof ReimageError) throw err;
      if (!res.body.destroyed) res.body.destroy();
      throw this.mapError(err, method, fullPath, signal);
    }
  }

  private mapError(err: unknown, method: string, fullPath: string, signal: AbortSignal | undefined): unknown {
    if (err instanceof ReimageError) return err;
    // The caller's abort: hand back its reason untouched so it can recognise it.
    if (signal?.aborted) return signal.reason ?? err;
    const path = this.safePath(fullPath);
    const code = errorCode(err);
    const message = err instanceof Error ? this.redact(err.message) : this.redact(String(err));
    err = this.safeCause(err, message, code);
    const phase = code ? TIMEOUT_PHASES[code] : undefined;
    if (phase) return new TimeoutError({ method, path, timeoutMs: this.timeoutMs, phase, cause: err });
    if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') {
      return new ReimageError(`${method} ${path}: the client is closed`, { cause: err });
    }
    if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED' || err instanceof RangeError) {
      return new ReimageError(`${method} ${path}: ${message}`, { cause: err });
    }
    return new NetworkError({ method, path, code: code ?? 'UNKNOWN', detail: message, cause: err });
  }
}
