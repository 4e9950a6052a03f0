/**
 * Integration harness (style.md §8, second layer): the real runner stack in-process — a
 * ReimageClient over real HTTP, a RateLimiter, a RequestExecutor and runTargets — against a
 * local server (the simulator, or a recording/foreign server), with the journal and plan
 * entries collected in memory.
 */
import { pino } from 'pino';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadManifest } from '../../src/manifest/index.js';
import type { PlanEntry, Target } from '../../src/plan/types.js';
import { ReimageClient } from '../../src/reimage/client.js';
import { RequestExecutor } from '../../src/runner/executor.js';
import { RateLimiter } from '../../src/runner/rate-limiter.js';
import { runTargets, type FailureBudget, type RunTargetsResult } from '../../src/runner/run.js';
import type { JournalEntry } from '../../src/runner/types.js';
import { ndjson } from './cli.js';

export interface InProcessOptions {
  baseUrl: string;
  apiKey: string;
  rate?: number;
  concurrency?: number;
  retries?: number;
  read?: boolean;
  dryRun?: boolean;
  pageSize?: number;
  maxFailures?: FailureBudget;
  timeoutMs?: number;
}

export interface InProcessResult {
  result: RunTargetsResult;
  entries: JournalEntry[];
  plans: PlanEntry[];
  counters: RequestExecutor['counters'];
  byId: Map<string, JournalEntry>;
}

/** Compose rules the way `retag run` does: through a real manifest file and the reader. */
export async function targetsFromRules(dir: string, rules: readonly unknown[], name = 'manifest.ndjson'): Promise<Target[]> {
  const file = join(dir, name);
  writeFileSync(file, ndjson(rules));
  const manifest = await loadManifest(file);
  if (manifest.problems.length > 0) throw new Error(`test manifest has problems: ${JSON.stringify(manifest.problems)}`);
  return manifest.targets;
}

export async function runInProcess(targets: Target[], o: InProcessOptions): Promise<InProcessResult> {
  const concurrency = o.concurrency ?? 4;
  const client = new ReimageClient({ baseUrl: o.baseUrl, apiKey: o.apiKey, concurrency, timeoutMs: o.timeoutMs ?? 10_000 });
  const limiter = new RateLimiter(o.rate ?? 200);
  const executor = new RequestExecutor(
    limiter,
    { retries: o.retries ?? 5, baseDelayMs: 20, maxDelayMs: 500, maxRetryAfterMs: 2_000 },
    concurrency,
  );
  const entries: JournalEntry[] = [];
  const plans: PlanEntry[] = [];
  try {
    const result = await runTargets(
      targets,
      client,
      executor,
      { logger: pino({ level: 'silent' }), onItem: (e) => entries.push(e), onPlan: (p) => plans.push(p) },
      {
        read: o.read ?? true,
        pageSize: o.pageSize ?? 100,
        dryRun: o.dryRun ?? false,
        ...(o.maxFailures ? { maxFailures: o.maxFailures } : {}),
      },
    );
    return { result, entries, plans, counters: { ...executor.counters }, byId: new Map(entries.map((e) => [e.id, e])) };
  } finally {
    await client.close();
  }
}
