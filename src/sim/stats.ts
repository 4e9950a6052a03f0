/**
 * Request counters. Updated on the hot path with plain increments; `snapshot()` builds the
 * JSON-friendly copy (the only place that walks the per-id map).
 */
import type { SimStats } from './types.js';

type FaultKind = keyof SimStats['faults'];

export class StatsRecorder {
  private requests = 0;
  private byEndpoint = new Map<string, number>();
  private byMethod = new Map<string, number>();
  private byStatus = new Map<number, number>();
  private rateLimited = 0;
  private faults = { error5xx: 0, faultAfterApply: 0, drop: 0, busy: 0 };
  private inFlight = 0;
  private maxInFlight = 0;
  private updatesApplied = 0;
  private appliedById = new Map<string, number>();
  private firstRequestAt: number | null = null;
  private lastRequestAt: number | null = null;

  /** A request arrived; returns the function to call once it is answered or dropped (idempotent). */
  begin(method: string, endpoint: string): () => void {
    this.requests++;
    bump(this.byEndpoint, endpoint);
    bump(this.byMethod, method);
    const now = Date.now();
    this.firstRequestAt ??= now;
    this.lastRequestAt = now;
    this.inFlight++;
    if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
    let done = false;
    // The in-flight count survives a reset: requests already running still finish.
    return () => {
      if (done) return;
      done = true;
      this.inFlight--;
    };
  }

  status(code: number): void {
    bump(this.byStatus, code);
    if (code === 429) this.rateLimited++;
  }

  fault(kind: FaultKind): void {
    this.faults[kind]++;
  }

  applied(id: string): void {
    this.updatesApplied++;
    bump(this.appliedById, id);
  }

  reset(): void {
    this.requests = 0;
    this.byEndpoint = new Map();
    this.byMethod = new Map();
    this.byStatus = new Map();
    this.rateLimited = 0;
    this.faults = { error5xx: 0, faultAfterApply: 0, drop: 0, busy: 0 };
    this.maxInFlight = this.inFlight;
    this.updatesApplied = 0;
    this.appliedById = new Map();
    this.firstRequestAt = null;
    this.lastRequestAt = null;
  }

  snapshot(): SimStats {
    const writtenMoreThanOnce: string[] = [];
    for (const [id, n] of this.appliedById) if (n > 1) writtenMoreThanOnce.push(id);
    return {
      requests: this.requests,
      byEndpoint: toRecord(this.byEndpoint),
      byMethod: toRecord(this.byMethod),
      byStatus: toRecord(this.byStatus),
      rateLimited: this.rateLimited,
      faults: { ...this.faults },
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      updatesApplied: this.updatesApplied,
      appliedById: toRecord(this.appliedById),
      writtenMoreThanOnce,
      firstRequestAt: this.firstRequestAt,
      lastRequestAt: this.lastRequestAt,
    };
  }
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Null-prototype record: an id such as "__proto__" stays an ordinary key. */
function toRecord(map: Map<string | number, number>): Record<string, number> {
  const out: Record<string, number> = Object.create(null);
  for (const [k, v] of map) out[String(k)] = v;
  return out;
}
