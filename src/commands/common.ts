import type { Logger } from 'pino';
import type { StopSignal } from '../errors.js';
import { registerSecret } from '../secrets.js';
import type { ManifestFormat } from '../manifest/index.js';
import { assertSafeBaseUrl, type ReimageClient } from '../reimage/client.js';
import { loadApiKey } from '../reimage/credentials.js';
import { createLogger } from '../report/logger.js';
import type { ExecutorEvents, RequestExecutor } from '../runner/executor.js';
import type { RateLimiter } from '../runner/rate-limiter.js';
import type { AutoRate } from '../runner/auto-rate.js';
import { createRequestStack } from '../runner/request-stack.js';
export { poolConnections } from '../runner/request-stack.js';
import type { RetryOptions } from '../runner/retry-policy.js';
import type { RateSetting } from './options.js';

/** Where a command writes for people, and how it learns of SIGINT/SIGTERM (wired in cli.ts). */
export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Register a callback for the first SIGHUP/SIGINT/SIGTERM; returns an unregister function. */
  onInterrupt(callback: (signal: StopSignal) => void): () => void;
  /** Told the summary of every run that ends (the programmatic API returns it). */
  onSummary?(summary: import('../report/run-dir.js').RunSummary): void;
}

export const DEFAULT_BASE_URL = 'https://api.reimage.dev';

/** Options every command that talks to the API shares. */
export interface ApiOptions {
  baseUrl?: string;
  apiKeyFile?: string;
  concurrency: number;
  rate: RateSetting;
  retry: RetryOptions;
  timeoutMs: number;
  logLevel: string;
  logFile?: string;
}

export interface ManifestReadOptions {
  format?: ManifestFormat;
  tagSeparator: string;
  maxTagLength: number;
  delimiter?: string;
  encoding?: string;
}

/** The reader options of a command's manifest options. */
export function manifestReadOptions(o: ManifestReadOptions) {
  return {
    ...(o.format !== undefined ? { format: o.format } : {}),
    tagSeparator: o.tagSeparator,
    maxTagLength: o.maxTagLength,
    ...(o.delimiter !== undefined ? { delimiter: o.delimiter } : {}),
    ...(o.encoding !== undefined ? { encoding: o.encoding } : {}),
  };
}

export interface ApiSession {
  apiKey: string;
  logger: Logger;
  flushLogs(): Promise<void>;
  client: ReimageClient;
  limiter: RateLimiter;
  executor: RequestExecutor;
  autoRate?: AutoRate;
  close(): Promise<void>;
}

/** Resolve the key and base URL (both checked before any request) and build the request stack. */
export async function openApiSession(
  options: ApiOptions,
  io: CommandIO,
  extra: { runId?: string; events?: ExecutorEvents } = {},
): Promise<ApiSession> {
  const baseUrl = options.baseUrl ?? io.env.REIMAGE_BASE_URL ?? DEFAULT_BASE_URL;
  assertSafeBaseUrl(baseUrl);
  const keyWarnings: string[] = []; // told once the logger exists (it needs the key to redact it)
  const apiKey = await loadApiKey({ apiKeyFile: options.apiKeyFile, env: io.env, onWarning: (w) => keyWarnings.push(w) });
  registerSecret(apiKey);
  const { logger, flush } = createLogger({
    level: options.logLevel,
    logFile: options.logFile,
    redact: [apiKey],
    runId: extra.runId,
  });
  for (const warning of keyWarnings) logger.warn({ apiKeyFile: options.apiKeyFile }, warning);
  const { client, limiter, executor, autoRate } = createRequestStack({
    baseUrl,
    apiKey,
    concurrency: options.concurrency,
    rate: options.rate,
    retry: options.retry,
    timeoutMs: options.timeoutMs,
    onRateDecision: (d) => logger.debug({ rate: Math.round(d.rate * 100) / 100, reason: d.reason, estimate: d.estimate ?? null, episodeMs: d.episodeMs, episodeAccepted: d.episodeAccepted }, 'rate auto: new rate'),
    events: {
      ...extra.events,
      onRetry(kind, error, attempt, delayMs) {
        logger.debug({ kind, attempt, delayMs, err: error }, 'retrying');
        extra.events?.onRetry?.(kind, error, attempt, delayMs);
      },
    },
  });
  return {
    apiKey,
    logger,
    flushLogs: flush,
    client,
    limiter,
    executor,
    ...(autoRate ? { autoRate } : {}),
    async close() {
      // A client already cut by an interrupt's drain deadline refuses to close: the logs still flush.
      await client.close().catch(() => undefined);
      await flush();
    },
  };
}

/** The summary fields every command that sends requests reports the same way. */
export function requestSummary(session: ApiSession, startedAt: Date, endedAt: Date = new Date()) {
  return {
    requests: { ...session.executor.counters },
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    durationMs: endedAt.getTime() - startedAt.getTime(),
    rate: {
      ...(session.autoRate
        ? { mode: 'auto' as const, final: Math.round(session.autoRate.rate * 10) / 10 }
        : { mode: 'fixed' as const, final: session.limiter.rate }),
      // What the run reached, requests over its whole duration (scans included).
      achieved: endedAt > startedAt ? Math.round((session.executor.counters.total / ((endedAt.getTime() - startedAt.getTime()) / 1000)) * 10) / 10 : 0,
    },
  };
}

/**
 * The longest a graceful stop waits for the requests in flight: then they are cut (not
 * journaled, so a resume redoes them — harmless, every write is an idempotent replace) and the
 * reports are written, so a SIGINT/SIGTERM ends the run within seconds even on a hung server.
 */
export const MAX_DRAIN_MS = 10_000;

/**
 * On the first SIGINT/SIGTERM: stop starting requests, let those in flight finish for at most
 * min(request timeout, MAX_DRAIN_MS), then cut them. Returns the unregister function.
 */
export function onInterruptDrain(
  io: CommandIO,
  session: ApiSession,
  timeoutMs: number,
  onSignal: (signal: StopSignal) => void,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const unregister = io.onInterrupt((signal) => {
    onSignal(signal);
    session.logger.warn({ signal }, `${signal}: finishing the requests in flight, then writing reports (again to quit at once)`);
    session.executor.abort(`interrupted by ${signal}`);
    const drainMs = Math.min(timeoutMs, MAX_DRAIN_MS);
    timer = setTimeout(() => {
      session.logger.warn({ drainMs }, `requests still in flight after ${drainMs} ms: cutting them (unfinished, a resume redoes them)`);
      session.client.destroy().catch(() => undefined);
    }, drainMs);
    timer.unref();
  });
  return () => {
    unregister();
    if (timer) clearTimeout(timer);
  };
}
