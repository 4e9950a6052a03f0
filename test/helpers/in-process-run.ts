/**
 * Integration harness (style.md §8, second layer): the real runner stack in-process — the
 * request stack of src/runner/request-stack.ts over real HTTP and the one engine with a rule
 * source — against a local server (the simulator, or a recording/foreign server), with the
 * finished items and decisions collected in memory.
 */
import { pino } from 'pino';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadManifest } from '../../src/manifest/index.js';
import type { PlanEntry, Target } from '../../src/plan/types.js';
import { opToRules } from '../../src/plan/compose.js';
import { RuleSet } from '../../src/plan/rule-set.js';
import type { RequestExecutor } from '../../src/runner/executor.js';
import { runEngine, type EngineResult, type FailureBudget } from '../../src/runner/engine.js';
import { createRequestStack } from '../../src/runner/request-stack.js';
import { ruleSource } from '../../src/runner/sources.js';
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
  result: EngineResult;
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

/** A rule set from composed targets (what a manifest of id rules compiles to). */
export function ruleSetOf(targets: readonly Target[]): RuleSet {
  const rules = new RuleSet();
  for (const t of targets) for (const rule of opToRules(t.id, t.op)) rules.add(rule);
  return rules;
}

export async function runInProcess(targets: Target[] | RuleSet, o: InProcessOptions): Promise<InProcessResult> {
  const concurrency = o.concurrency ?? 4;
  const { client, executor } = createRequestStack({
    baseUrl: o.baseUrl,
    apiKey: o.apiKey,
    concurrency,
    rate: o.rate ?? 200,
    retry: { retries: o.retries ?? 5, baseDelayMs: 20, maxDelayMs: 500, maxRetryAfterMs: 2_000 },
    timeoutMs: o.timeoutMs ?? 10_000,
  });
  const rules = targets instanceof RuleSet ? targets : ruleSetOf(targets);
  const entries: JournalEntry[] = [];
  const plans: PlanEntry[] = [];
  try {
    const result = await runEngine(
      ruleSource(rules, rules.writableTags()),
      {
        api: client,
        executor,
        logger: pino({ level: 'silent' }),
        observer: { finished: (e) => entries.push(e), decided: (p) => plans.push({ id: p.id, before: p.before, after: p.after, action: p.action }) },
      },
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
