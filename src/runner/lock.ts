import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { ExitError, ExitCode, UsageError } from '../errors.js';

/** A lock left by a killed process is taken over once its heartbeat is this old. */
export const LOCK_STALE_MS = 15_000;
/** proper-lockfile's floor for `stale`; the heartbeat runs every stale/3 (at least 1 s). */
const MIN_STALE_MS = 3_000;

/**
 * The staleness to use: `RETAG_LOCK_STALE_MS` when set (tests, or a host whose clock jumps),
 * else LOCK_STALE_MS. A value that is not a whole number ≥ 3000 is a usage error.
 */
export function lockStaleMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RETAG_LOCK_STALE_MS;
  if (raw === undefined || raw.trim() === '') return LOCK_STALE_MS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < MIN_STALE_MS || n > 3_600_000) {
    throw new UsageError(`RETAG_LOCK_STALE_MS expects milliseconds, a whole number from ${MIN_STALE_MS} to 3600000, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export function defaultLockDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.RETAG_LOCK_DIR ?? path.join(os.tmpdir(), 'retag-locks');
}

/**
 * Hold the lock named after a job for the whole run (proper-lockfile: an atomic mkdir whose
 * mtime is refreshed every few seconds). A second holder fails at once with exit 4; a lock
 * whose holder died (kill -9) goes stale after `staleMs` (default LOCK_STALE_MS) and is taken over.
 */
export async function acquireJobLock(
  name: string,
  lockDir: string,
  onCompromised: (error: Error) => void,
  staleMs: number = LOCK_STALE_MS,
): Promise<{ path: string; release(): Promise<void> }> {
  await mkdir(lockDir, { recursive: true });
  const target = path.join(lockDir, `${name}.job`);
  const lockPath = `${target}.lock`;
  try {
    const release = await lockfile.lock(target, {
      lockfilePath: lockPath,
      realpath: false,
      stale: staleMs,
      update: Math.max(1000, Math.floor(staleMs / 3)),
      retries: 0,
      onCompromised,
    });
    return {
      path: lockPath,
      async release() {
        await release().catch(() => undefined);
      },
    };
  } catch (error) {
    if ((error as { code?: string }).code === 'ELOCKED') {
      throw new ExitError(
        ExitCode.locked,
        `job "${name}" is already running (lock ${lockPath}); nothing was sent. ` +
          `A lock left by a killed run is taken over after ${staleMs / 1000} s.`,
      );
    }
    throw error;
  }
}
