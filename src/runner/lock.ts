import { chmod, lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { ExitError, ExitCode, fileErrorReason, UsageError } from '../errors.js';

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

/** Per user (a shared directory could be squatted or owned by someone else). */
export function defaultLockDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RETAG_LOCK_DIR) return env.RETAG_LOCK_DIR;
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  return path.join(os.tmpdir(), uid === undefined ? 'retag-locks' : `retag-locks-${uid}`);
}

/**
 * Create the lock directory (0700) or check the existing one: refused (exit 2) when it is a
 * symlink, not a directory, or owned by another user, since whoever controls it controls our locks.
 */
export async function ensureLockDir(dir: string): Promise<void> {
  // Look before creating: a file or a (dangling) symlink in the way is refused, not a crash.
  let st;
  try {
    st = await lstat(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`lock directory ${dir}: ${fileErrorReason(error)}`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (mkdirError) {
      throw new UsageError(`cannot create the lock directory ${dir}: ${fileErrorReason(mkdirError)}`);
    }
    st = await lstat(dir);
  }
  if (st.isSymbolicLink()) throw new UsageError(`lock directory ${dir} is a symbolic link: refusing it (set RETAG_LOCK_DIR or --lock-dir to a directory of your own)`);
  if (!st.isDirectory()) throw new UsageError(`lock directory ${dir} is not a directory`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid) {
    throw new UsageError(`lock directory ${dir} belongs to another user (uid ${st.uid}): refusing it (set RETAG_LOCK_DIR or --lock-dir to a directory of your own)`);
  }
  if ((st.mode & 0o077) !== 0 && uid !== undefined) await chmod(dir, 0o700);
}

/**
 * Hold the lock named after a job for the whole run. A second run of the job fails at once with
 * exit 4; a lock whose holder died is taken over (at once for a process of this host that is
 * gone, else once its heartbeat is `staleMs` old).
 */
export async function acquireJobLock(
  name: string,
  lockDir: string,
  onCompromised: (error: Error) => void,
  staleMs: number = LOCK_STALE_MS,
): Promise<{ path: string; release(): Promise<void> }> {
  await ensureLockDir(lockDir);
  const target = path.join(lockDir, `${name}.job`);
  return holdLock(target, `${target}.lock`, onCompromised, staleMs, (lockPath) =>
    `job "${name}" is already running (lock ${lockPath}); nothing was sent. A lock left by a killed run is taken over after ${staleMs / 1000} s.`,
  );
}

/** The lock of a run directory, inside it: held by whoever writes into the directory. */
export const RUN_DIR_LOCK = '.retag.lock';
/** Beside the lock directory: who holds it (so a holder killed on this host is seen dead at once). */
const ownerFile = (lockPath: string) => `${lockPath}.owner`;

/** True when the lock's recorded holder is a process of this host that no longer exists. */
async function holderIsDead(lockPath: string): Promise<boolean> {
  try {
    const owner = JSON.parse(await readFile(ownerFile(lockPath), 'utf8')) as { pid?: unknown; host?: unknown };
    if (typeof owner.pid !== 'number' || owner.host !== os.hostname() || owner.pid === process.pid) return false;
    try {
      process.kill(owner.pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    return false; // no owner file (yet): only staleness tells
  }
}

/**
 * Hold a run directory for the whole command (design.md §5): a second process that would write
 * into it (--resume, undo of it, apply into it) exits 4 at once and sends nothing. A lock whose
 * holder was killed is taken over: at once when the holder was a process of this host that is
 * gone (the usual `kill -9`, then `--resume`), else once its heartbeat is `staleMs` old.
 */
export async function acquireRunDirLock(
  dir: string,
  onCompromised: (error: Error) => void,
  staleMs: number = LOCK_STALE_MS,
): Promise<{ path: string; release(): Promise<void> }> {
  return holdLock(dir, path.join(dir, RUN_DIR_LOCK), onCompromised, staleMs, (lockPath) =>
    `run directory ${dir} is in use by another retag process (lock ${lockPath}); nothing was sent. ` +
      `A lock left by a killed process is taken over after ${staleMs / 1000} s.`,
  );
}

/**
 * The one lock (proper-lockfile: an atomic mkdir whose mtime is refreshed every staleMs/3), with
 * an owner file beside it so a holder killed on this host is seen dead at once.
 */
async function holdLock(
  target: string,
  lockPath: string,
  onCompromised: (error: Error) => void,
  staleMs: number,
  lockedMessage: (lockPath: string) => string,
): Promise<{ path: string; release(): Promise<void> }> {
  const options = {
    lockfilePath: lockPath,
    realpath: false,
    stale: staleMs,
    update: Math.max(1000, Math.floor(staleMs / 3)),
    retries: 0,
    onCompromised,
  };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, options);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ELOCKED') throw error;
    if (!(await holderIsDead(lockPath))) throw new ExitError(ExitCode.locked, lockedMessage(lockPath));
    await rm(lockPath, { recursive: true, force: true });
    try {
      release = await lockfile.lock(target, options);
    } catch (again) {
      if ((again as { code?: string }).code === 'ELOCKED') throw new ExitError(ExitCode.locked, lockedMessage(lockPath));
      throw again;
    }
  }
  await writeFile(ownerFile(lockPath), JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() }), { mode: 0o600 });
  return {
    path: lockPath,
    async release() {
      await rm(ownerFile(lockPath), { force: true }).catch(() => undefined);
      await release().catch(() => undefined);
    },
  };
}
