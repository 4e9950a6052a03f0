import type { Clock } from '../../src/runner/clock.js';

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

export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}
