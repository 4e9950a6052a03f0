import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { ExitError, ExitCode } from '../errors.js';

/** A lock left by a killed process is taken over once its heartbeat is this old. */
export const LOCK_STALE_MS = 15_000;

export function defaultLockDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.RETAG_LOCK_DIR ?? path.join(os.tmpdir(), 'retag-locks');
}

/**
 * Hold the lock named after a job for the whole run (proper-lockfile: an atomic mkdir whose
 * mtime is refreshed every few seconds). A second holder fails at once with exit 4; a lock
 * whose holder died (kill -9) goes stale after LOCK_STALE_MS and is taken over.
 */
export async function acquireJobLock(
  name: string,
  lockDir: string,
  onCompromised: (error: Error) => void,
): Promise<{ path: string; release(): Promise<void> }> {
  await mkdir(lockDir, { recursive: true });
  const target = path.join(lockDir, `${name}.job`);
  const lockPath = `${target}.lock`;
  try {
    const release = await lockfile.lock(target, {
      lockfilePath: lockPath,
      realpath: false,
      stale: LOCK_STALE_MS,
      update: LOCK_STALE_MS / 3,
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
          `A lock left by a killed run is taken over after ${LOCK_STALE_MS / 1000} s.`,
      );
    }
    throw error;
  }
}
