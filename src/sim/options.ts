/**
 * Simulator options: defaults first, then every value checked, every problem reported at once.
 */
import { UsageError } from '../errors.js';
import { LIST_ORDERS, LIST_SHAPES, PAST_END_MODES, type ListOrder, type ListShape, type PastEnd, type SimOptions } from './types.js';

export interface ResolvedSimOptions {
  host: string;
  port: number;
  seedFile: string | undefined;
  generate: number;
  keys: Record<string, string>;
  /** 0 = unlimited. */
  rateLimit: number;
  burst: number;
  rateLimitHeaders: boolean;
  listShape: ListShape;
  maxPageSize: number;
  listOrder: ListOrder;
  pageOverlap: number;
  pastEnd: PastEnd;
  error5xxRate: number;
  faultAfterApplyRate: number;
  dropRate: number;
  busyRate: number;
  latencyMs: number;
  jitterMs: number;
  seed: number;
}

export const SIM_DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  listShape: 'object' as ListShape,
  maxPageSize: 100,
  listOrder: 'id' as ListOrder,
  pageOverlap: 0,
  pastEnd: 'empty' as PastEnd,
  seed: 1,
} as const;

export { isLoopbackHost } from '../net.js';
import { isLoopbackHost } from '../net.js';

/** Check and complete options; throws a UsageError listing every problem. */
export function resolveSimOptions(opts: SimOptions): ResolvedSimOptions {
  const problems: string[] = [];
  const num = (name: keyof SimOptions, value: unknown, fallback: number, check: (n: number) => boolean, expect: string): number => {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
      problems.push(`${name}: expected ${expect}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  };
  const probability = (name: keyof SimOptions): number =>
    num(name, opts[name], 0, (n) => n >= 0 && n <= 1, 'a probability between 0 and 1');

  const host = opts.host ?? SIM_DEFAULTS.host;
  if (typeof host !== 'string' || !isLoopbackHost(host)) {
    problems.push(`host: the simulator only listens on loopback (127.0.0.1, ::1, localhost), got ${JSON.stringify(host)}`);
  }
  const port = num('port', opts.port, SIM_DEFAULTS.port, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'an integer port 0..65535');
  const generate = num('generate', opts.generate, 0, (n) => Number.isInteger(n) && n >= 0, 'a whole number of images ≥ 0');
  const rateLimit = num('rateLimit', opts.rateLimit, 0, (n) => n >= 0, 'requests per second ≥ 0 (0 = unlimited)');
  const burst = num('burst', opts.burst, Math.max(1, rateLimit), (n) => n >= 1, 'a bucket size ≥ 1');
  const maxPageSize = num('maxPageSize', opts.maxPageSize, SIM_DEFAULTS.maxPageSize, (n) => Number.isInteger(n) && n >= 1, 'an integer ≥ 1');
  const latencyMs = num('latencyMs', opts.latencyMs, 0, (n) => n >= 0, 'milliseconds ≥ 0');
  const jitterMs = num('jitterMs', opts.jitterMs, 0, (n) => n >= 0, 'milliseconds ≥ 0');
  const seed = num('seed', opts.seed, SIM_DEFAULTS.seed, (n) => Number.isInteger(n), 'an integer');
  const listShape = opts.listShape ?? SIM_DEFAULTS.listShape;
  if (!LIST_SHAPES.includes(listShape)) {
    problems.push(`listShape: expected one of ${LIST_SHAPES.join(', ')}, got ${JSON.stringify(listShape)}`);
  }
  const listOrder = opts.listOrder ?? SIM_DEFAULTS.listOrder;
  if (!LIST_ORDERS.includes(listOrder)) {
    problems.push(`listOrder: expected one of ${LIST_ORDERS.join(', ')}, got ${JSON.stringify(listOrder)}`);
  }
  const pageOverlap = num('pageOverlap', opts.pageOverlap, SIM_DEFAULTS.pageOverlap, (n) => Number.isInteger(n) && n >= 0, 'a whole number of records ≥ 0');
  // A JavaScript caller may well write the status as a number.
  const pastEnd = ((opts.pastEnd as unknown) === 404 ? '404' : opts.pastEnd) ?? SIM_DEFAULTS.pastEnd;
  if (!PAST_END_MODES.includes(pastEnd)) {
    problems.push(`pastEnd: expected one of ${PAST_END_MODES.join(', ')}, got ${JSON.stringify(pastEnd)}`);
  }
  if (opts.seedFile !== undefined && (typeof opts.seedFile !== 'string' || opts.seedFile === '')) {
    problems.push(`seedFile: expected a file path, got ${JSON.stringify(opts.seedFile)}`);
  }
  const keys: Record<string, string> = {};
  for (const [key, owner] of Object.entries(opts.keys ?? {})) {
    if (key === '' || typeof owner !== 'string' || owner === '') {
      problems.push(`keys: expected key → owner with both non-empty, got ${JSON.stringify(key)} → ${JSON.stringify(owner)}`);
    } else {
      keys[key] = owner;
    }
  }
  const resolved: ResolvedSimOptions = {
    host,
    port,
    seedFile: opts.seedFile,
    generate,
    keys,
    rateLimit,
    burst,
    rateLimitHeaders: opts.rateLimitHeaders ?? false,
    listShape,
    maxPageSize,
    listOrder,
    pageOverlap,
    pastEnd,
    error5xxRate: probability('error5xxRate'),
    faultAfterApplyRate: probability('faultAfterApplyRate'),
    dropRate: probability('dropRate'),
    busyRate: probability('busyRate'),
    latencyMs,
    jitterMs,
    seed,
  };
  if (problems.length > 0) throw new UsageError(`invalid simulator options:\n  ${problems.join('\n  ')}`);
  return resolved;
}
