/**
 * Pure parsers for the server's pacing hints: `Retry-After` and the rate-limit header families
 * (IETF draft `RateLimit-*` / `RateLimit`, and the older `X-RateLimit-*`). No clock is read:
 * callers pass `now` (ms since the epoch).
 */

/** A value above this many seconds is an epoch timestamp, not a delta (10^9 s ≈ 2001-09-09). */
const EPOCH_SECONDS_THRESHOLD = 1e9;
/** A value above this is an epoch in milliseconds. */
const EPOCH_MS_THRESHOLD = 1e12;

const DELTA_SECONDS = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * `Retry-After` → milliseconds to wait. Accepts delta-seconds (fractional too, which some
 * servers send) or an HTTP-date. A negative delta or a date in the past → 0. Garbage or
 * absent → undefined.
 */
export function parseRetryAfter(value: string | undefined | null, now: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  if (text === '') return undefined;
  if (DELTA_SECONDS.test(text)) {
    const seconds = Number(text);
    if (!Number.isFinite(seconds)) return undefined;
    return seconds <= 0 ? 0 : Math.ceil(seconds * 1000);
  }
  // An HTTP-date always names a weekday or month; this keeps Date.parse's leniency
  // ("1", "2020-") from turning garbage into a date.
  if (!/[a-z]{3}/i.test(text) || !/\d/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export interface RateLimitInfo {
  /** Requests allowed per window. */
  limit?: number;
  /** Requests left in the current window. */
  remaining?: number;
  /** Milliseconds until the window resets (≥ 0). */
  resetMs?: number;
}

export type HeaderBag =
  | Record<string, string | string[] | number | undefined | null>
  | { get(name: string): string | null };

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const bag = headers as Record<string, string | string[] | number | undefined | null>;
  let value = bag[name];
  if (value === undefined) {
    for (const key of Object.keys(bag)) {
      if (key.toLowerCase() === name) {
        value = bag[key];
        break;
      }
    }
  }
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** First non-negative number in a header value: "10", "10, 10;w=1", "100;w=60" → the first. */
function firstNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : undefined;
}

/** A reset value: delta seconds, or an epoch (seconds > 10^9, milliseconds > 10^12). */
function resetToMs(value: number | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  if (value > EPOCH_MS_THRESHOLD) return Math.max(0, Math.ceil(value - now));
  if (value > EPOCH_SECONDS_THRESHOLD) return Math.max(0, Math.ceil(value * 1000 - now));
  return Math.ceil(value * 1000);
}

/**
 * The combined field, in both draft spellings:
 * `RateLimit: limit=10, remaining=0, reset=5` and `RateLimit: "default";r=0;t=5`.
 */
function parseCombined(value: string): { limit?: number; remaining?: number; reset?: number } {
  const out: { limit?: number; remaining?: number; reset?: number } = {};
  for (const part of value.split(/[,;]/)) {
    const m = /^\s*([a-z_-]+)\s*=\s*"?(\d+(?:\.\d+)?)"?\s*$/i.exec(part);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const n = Number(m[2]);
    if (key === 'limit' || key === 'l' || key === 'q') out.limit ??= n;
    else if (key === 'remaining' || key === 'r') out.remaining ??= n;
    else if (key === 'reset' || key === 't') out.reset ??= n;
  }
  return out;
}

/**
 * Rate-limit headers → { limit, remaining, resetMs }. The IETF names win over the X- names;
 * fields that are absent or unreadable are left out.
 */
export function parseRateLimitHeaders(headers: HeaderBag, now: number = Date.now()): RateLimitInfo {
  const combinedRaw = header(headers, 'ratelimit');
  const combined = combinedRaw === undefined ? {} : parseCombined(combinedRaw);

  const limit =
    firstNumber(header(headers, 'ratelimit-limit')) ?? combined.limit ?? firstNumber(header(headers, 'x-ratelimit-limit'));
  const remaining =
    firstNumber(header(headers, 'ratelimit-remaining')) ??
    combined.remaining ??
    firstNumber(header(headers, 'x-ratelimit-remaining'));

  // RateLimit-Reset is delta seconds by the draft; still guard against servers sending an epoch.
  let resetMs = resetToMs(firstNumber(header(headers, 'ratelimit-reset')) ?? combined.reset, now);
  resetMs ??= resetToMs(firstNumber(header(headers, 'x-ratelimit-reset')), now);
  resetMs ??= resetToMs(firstNumber(header(headers, 'x-ratelimit-reset-after')), now);

  const info: RateLimitInfo = {};
  if (limit !== undefined) info.limit = limit;
  if (remaining !== undefined) info.remaining = remaining;
  if (resetMs !== undefined) info.resetMs = resetMs;
  return info;
}
