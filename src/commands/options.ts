import { UsageError } from '../errors.js';
import type { FailureBudget } from '../runner/engine.js';

/**
 * Option checks shared by the commands (style.md §3): each names the option, what it expects
 * and what it was given, so the user knows what to fix.
 */
export function positiveInt(name: string, value: unknown, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} expects a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function positiveNumber(name: string, value: unknown): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${name} expects a positive number, got ${JSON.stringify(value)}`);
  }
  return n;
}

export type RateSetting = number | 'auto';

export function parseRate(value: unknown): RateSetting {
  if (value === 'auto') return 'auto';
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || n > 100_000) {
    throw new UsageError(`--rate expects requests per second (a number above 0) or "auto", got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `--max-failures 10` (items) or `--max-failures 5%` (of the run's items). */
export function parseBudget(value: unknown): FailureBudget | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = String(value).trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const p = Number(percent[1]);
    if (p <= 100) return { percent: p };
  } else if (/^\d+$/.test(text)) {
    return { count: Number(text) };
  }
  throw new UsageError(`--max-failures expects a number of items (e.g. 10) or a percentage (e.g. 5%), got ${JSON.stringify(value)}`);
}

/** Seconds (as users write them) to milliseconds. */
export function seconds(name: string, value: unknown): number {
  return Math.round(positiveNumber(name, value) * 1000);
}
