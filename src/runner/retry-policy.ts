/**
 * The retry decision, as a pure function (style.md §5): no clock, no randomness, no I/O of
 * its own; `now` and `random` are passed in so tables can pin every branch.
 *
 * Retried: network errors, timeouts, HTTP 408, 429, 500, 502, 503, 504.
 * Not retried: every other status (401 → unauthorized, 403 → forbidden, 404 → not_found,
 * the rest → http) and errors that are not request failures.
 * Delay: `Retry-After` (seconds or HTTP-date) when the server sent one, capped by
 * maxRetryAfterMs; else on a 429/503 a rate-limit reset hint (same cap); else exponential
 * backoff with full jitter, `random() * min(maxDelayMs, baseDelayMs * 2^(attempt-1))`.
 */
import { HttpError, NetworkError, TimeoutError } from '../reimage/errors.js';
import { parseRateLimitHeaders, parseRetryAfter } from './retry-after.js';

export interface RetryOptions {
  /** Attempts after the first (--retries). Minimum 0. Default 5. */
  retries: number;
  /** First backoff ceiling in ms; doubles per attempt. Default 250. */
  baseDelayMs: number;
  /** Largest backoff ceiling in ms. Default 30 000. */
  maxDelayMs: number;
  /** Largest wait taken from Retry-After / rate-limit reset (--max-retry-after). Default 60 000. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_OPTIONS: Readonly<RetryOptions> = Object.freeze({
  retries: 5,
  baseDelayMs: 250,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
});

export type StopReason = 'not_found' | 'forbidden' | 'http' | 'retries_exhausted' | 'unauthorized' | 'network';

export type RetryDecision =
  | { retry: true; delayMs: number; reason: string }
  | { retry: false; reason: StopReason };

/** Statuses worth another attempt. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Node / undici error codes that mean "the request got no answer; try again". */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function codeOf(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Would another attempt of the same request possibly succeed? */
export function isRetryable(error: unknown): boolean {
  if (error instanceof HttpError) return RETRYABLE_STATUSES.has(error.status);
  if (error instanceof NetworkError || error instanceof TimeoutError) return true;
  // A raw Node/undici error that escaped wrapping.
  const code = codeOf(error);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/** Why a request failed, in a word for the journal / logs. */
function retryReason(error: unknown): string {
  if (error instanceof HttpError) return `http_${error.status}`;
  if (error instanceof TimeoutError) return 'timeout';
  if (error instanceof NetworkError) return `network_${error.code}`;
  return `network_${codeOf(error) ?? 'error'}`;
}

function stopReason(error: unknown): StopReason {
  if (error instanceof HttpError) {
    if (error.status === 401) return 'unauthorized';
    if (error.status === 403) return 'forbidden';
    if (error.status === 404) return 'not_found';
    return 'http';
  }
  return 'network';
}

/**
 * The wait the server asked for, in ms, capped by `maxRetryAfterMs`; undefined when it did not
 * ask. Retry-After first; on 429/503 a rate-limit reset is taken as the same hint when the
 * window is spent (remaining 0) or the remaining count is not given.
 * Exported for the rate controller, which slows the whole queue on a 429.
 */
export function serverDelayMs(error: unknown, now: number, maxRetryAfterMs: number): number | undefined {
  if (!(error instanceof HttpError)) return undefined;
  const retryAfter = parseRetryAfter(error.headers['retry-after'], now);
  if (retryAfter !== undefined) return Math.min(retryAfter, maxRetryAfterMs);
  if (error.status === 429 || error.status === 503) {
    const rl = parseRateLimitHeaders(error.headers, now);
    if (rl.resetMs !== undefined && (rl.remaining === undefined || rl.remaining <= 0)) {
      return Math.min(rl.resetMs, maxRetryAfterMs);
    }
  }
  return undefined;
}

/** The full-jitter backoff ceiling for an attempt (attempts made so far, ≥ 1). */
export function backoffCeilingMs(attempt: number, opts: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>): number {
  const exp = Math.max(0, attempt - 1);
  return Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** exp);
}

/**
 * Decide what to do after `attempt` attempts (≥ 1) ended with `error`.
 * `random` returns [0, 1) like Math.random.
 */
export function decideRetry(
  attempt: number,
  error: unknown,
  opts: RetryOptions,
  now: number,
  random: () => number,
): RetryDecision {
  if (!isRetryable(error)) return { retry: false, reason: stopReason(error) };
  if (attempt > opts.retries) return { retry: false, reason: 'retries_exhausted' };

  const reason = retryReason(error);
  const asked = serverDelayMs(error, now, opts.maxRetryAfterMs);
  if (asked !== undefined) return { retry: true, delayMs: asked, reason: `${reason}_retry_after` };

  const r = Math.min(Math.max(random(), 0), 1);
  const delayMs = Math.floor(r * backoffCeilingMs(attempt, opts));
  return { retry: true, delayMs, reason };
}
