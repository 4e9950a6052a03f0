import type { Clock } from '../../src/runner/clock.js';
import { seeded } from './seeded.js';

/** A manual clock: sleep() resolves when advance() passes its deadline. */
export class FakeClock implements Clock {
  #now: number;
  #sleepers: Array<{ until: number; resolve: () => void }> = [];

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper = { until: this.#now + ms, resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /** Move time forward in small steps, letting woken tasks run between steps. */
  async advance(ms: number, step = 1): Promise<void> {
    const end = this.#now + ms;
    while (this.#now < end) {
      this.#now = Math.min(end, this.#now + step);
      const due = this.#sleepers.filter((s) => s.until <= this.#now);
      this.#sleepers = this.#sleepers.filter((s) => s.until > this.#now);
      for (const s of due) s.resolve();
      await flush();
    }
  }
}

/**
 * A FakeClock whose timers fire late, 0–`lateMs` ms (seeded): a busy event loop and timers on
 * whole milliseconds. `sleepPrecisely` is exact, as systemClock's is to a fraction of a ms.
 */
export class LateClock extends FakeClock {
  readonly #late: () => number;
  readonly #lateMs: number;

  readonly #preciseLate: boolean;

  /** `preciseLate`: precise sleeps are late too (a machine where nothing is on time). */
  constructor(lateMs = 3, { seed = 5, preciseLate = false } = {}) {
    super();
    this.#late = seeded(seed);
    this.#lateMs = lateMs;
    this.#preciseLate = preciseLate;
  }

  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return super.sleep(ms <= 0 ? ms : ms + this.#lateMs * this.#late(), signal);
  }

  sleepPrecisely(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#preciseLate ? this.sleep(ms, signal) : super.sleep(ms, signal);
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}
