import { byTag } from './normalize.js';
import type { PlanAction, PlanEntry } from './types.js';

export interface TagCount {
  tag: string;
  count: number;
}

/** One changing image, for people to eyeball. */
export interface PlanSample {
  id: string;
  /** null when not read (--no-read). */
  before: string[] | null;
  after: string[];
  added: string[];
  removed: string[];
}

export interface PlanSummary {
  /** Targets seen. */
  total: number;
  actions: Record<PlanAction, number>;
  /** Images whose tags change (= actions.update). */
  changing: number;
  /** Updates whose current tags were not read (--no-read): their per-tag changes are unknown. */
  unread: number;
  /** Images gaining each tag, most frequent first (ties by tag). */
  added: TagCount[];
  /** Images losing each tag, most frequent first (ties by tag). */
  removed: TagCount[];
  /** The first updates, in plan order. */
  samples: PlanSample[];
}

export interface PlanStatsOptions {
  /** How many updates to keep as samples (default 10). */
  samples?: number;
}

/** Tags in `a` that are not in `b`, in `a`'s order. */
export function tagsNotIn(a: readonly string[], b: readonly string[]): string[] {
  const set = new Set(b);
  return a.filter((t) => !set.has(t));
}

function sortedCounts(counts: Map<string, number>): TagCount[] {
  return [...counts]
    .map(([tag, count]) => ({ tag, count }))
    .sort((x, y) => y.count - x.count || byTag(x.tag, y.tag));
}

/**
 * Summarises a plan as it streams by. Pure; memory is bounded by the number of distinct tags
 * changed plus the samples, not by the number of entries.
 */
export class PlanStats {
  private readonly maxSamples: number;
  private total = 0;
  private readonly actions: Record<PlanAction, number> = { update: 0, unchanged: 0, not_found: 0, conflict: 0 };
  private unread = 0;
  private readonly added = new Map<string, number>();
  private readonly removed = new Map<string, number>();
  private readonly samples: PlanSample[] = [];

  constructor(options: PlanStatsOptions = {}) {
    this.maxSamples = Math.max(0, options.samples ?? 10);
  }

  add(entry: PlanEntry): void {
    this.total++;
    this.actions[entry.action]++;
    if (entry.action !== 'update' || entry.after === null) return;
    const after = entry.after;
    let added: string[] = [];
    let removed: string[] = [];
    if (entry.before === null) {
      this.unread++;
    } else {
      added = tagsNotIn(after, entry.before);
      removed = tagsNotIn(entry.before, after);
      for (const t of added) this.added.set(t, (this.added.get(t) ?? 0) + 1);
      for (const t of removed) this.removed.set(t, (this.removed.get(t) ?? 0) + 1);
    }
    if (this.samples.length < this.maxSamples) {
      this.samples.push({ id: entry.id, before: entry.before && [...entry.before], after: [...after], added, removed });
    }
  }

  result(): PlanSummary {
    return {
      total: this.total,
      actions: { ...this.actions },
      changing: this.actions.update,
      unread: this.unread,
      added: sortedCounts(this.added),
      removed: sortedCounts(this.removed),
      samples: this.samples.map((s) => ({ ...s })),
    };
  }
}

/** Summarise a whole plan at once. */
export function summarizePlan(entries: Iterable<PlanEntry>, options?: PlanStatsOptions): PlanSummary {
  const stats = new PlanStats(options);
  for (const e of entries) stats.add(e);
  return stats.result();
}
