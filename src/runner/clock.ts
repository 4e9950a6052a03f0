/** Time and sleep, injectable so the rate logic is tested without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Sleep to within a small fraction of a millisecond of `ms` (timers fire on whole
   * milliseconds, often one late): strict spacing at a rate near a server's limit. Optional:
   * `sleep` stands in.
   */
  sleepPrecisely?(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The last stretch of a precise sleep is spent turning the event loop over (setImmediate), not on a timer. */
const SPIN_MS = 1.5;

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
  async sleepPrecisely(ms, signal) {
    const until = performance.now() + ms;
    if (ms > SPIN_MS) await systemClock.sleep(ms - SPIN_MS, signal);
    // Other callbacks run between the turns: this only waits, it does not block the loop.
    while (performance.now() < until && !signal?.aborted) await new Promise<void>((resolve) => setImmediate(resolve));
  },
};
