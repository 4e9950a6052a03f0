/**
 * Locks (design.md §5, §7; issue 8 "Files"), on src/runner/lock.ts directly:
 * - the default lock directory is per user (`<tmp>/retag-locks-<uid>`), RETAG_LOCK_DIR wins;
 * - ensureLockDir creates a fresh directory 0700, tightens an existing one of ours to 0700, and
 *   refuses (UsageError, exit 2) a symlink, a non-directory, or a directory owned by another user;
 * - acquireRunDirLock: a second holder gets exit 4 while the first lives; a lock whose owner file
 *   names a dead process of this host is taken over at once (not after the 15 s staleness), while
 *   one naming a live process, or a process of another host, is not.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ExitError, UsageError } from '../src/errors.js';
import { acquireRunDirLock, defaultLockDir, ensureLockDir, LOCK_STALE_MS, RUN_DIR_LOCK } from '../src/runner/lock.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retag-lock-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const fresh = (name: string) => path.join(dir, `${name}-${++n}`);

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<ExitError> {
  let value: unknown;
  try {
    value = await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ExitError);
    return err as ExitError;
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
}

/** The pid of a process that existed and has exited (so `kill(pid, 0)` gives ESRCH). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
  // exit fires after the child is reaped; the pid is free now (reuse within the test is not a concern).
  expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  return pid;
}

/** A lock left in `runDir` as a killed holder leaves it: the proper-lockfile directory (fresh mtime) and the owner file. */
function leaveLock(runDir: string, owner: { pid: number; host: string }): string {
  mkdirSync(runDir, { recursive: true });
  const lockPath = path.join(runDir, RUN_DIR_LOCK);
  mkdirSync(lockPath);
  writeFileSync(`${lockPath}.owner`, JSON.stringify({ ...owner, since: new Date().toISOString() }));
  return lockPath;
}

const compromised: Error[] = [];
const onCompromised = (e: Error) => compromised.push(e);

describe('defaultLockDir', () => {
  test('per uid under the temporary directory', () => {
    const uid = process.getuid!();
    expect(defaultLockDir({})).toBe(path.join(os.tmpdir(), `retag-locks-${uid}`));
    expect(defaultLockDir({})).not.toBe(path.join(os.tmpdir(), 'retag-locks'));
  });

  test('RETAG_LOCK_DIR wins', () => {
    expect(defaultLockDir({ RETAG_LOCK_DIR: '/somewhere/locks' })).toBe('/somewhere/locks');
  });
});

describe('ensureLockDir', () => {
  test('a fresh directory (and its missing parents) is created mode 0700, whatever the umask', async () => {
    const lockDir = path.join(fresh('parent'), 'a', 'locks');
    const saved = process.umask(0o000);
    try {
      await ensureLockDir(lockDir);
    } finally {
      process.umask(saved);
    }
    const st = statSync(lockDir);
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o700);
    expect(st.uid).toBe(process.getuid!());
  });

  test('an existing directory of ours open to others is tightened to 0700', async () => {
    const lockDir = fresh('loose');
    mkdirSync(lockDir);
    chmodSync(lockDir, 0o777);
    await ensureLockDir(lockDir);
    expect(statSync(lockDir).mode & 0o777).toBe(0o700);
  });

  test('a symlink (even to a directory of ours) is refused: UsageError, exit 2, left as it was', async () => {
    const target = fresh('target');
    mkdirSync(target, { mode: 0o700 });
    const link = fresh('link');
    symlinkSync(target, link);
    const err = await rejection(ensureLockDir(link));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(
      `lock directory ${link} is a symbolic link: refusing it (set RETAG_LOCK_DIR or --lock-dir to a directory of your own)`,
    );
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  test('a directory owned by another user (uid 65534) is refused: UsageError, exit 2, mode untouched', async () => {
    if (process.getuid!() !== 0) {
      // Only root can hand a directory to another user; elsewhere /tmp (root's) stands in.
      const err = await rejection(ensureLockDir('/'));
      expect(err).toBeInstanceOf(UsageError);
      expect(err.exitCode).toBe(2);
      return;
    }
    const lockDir = fresh('foreign');
    mkdirSync(lockDir);
    chmodSync(lockDir, 0o777);
    chownSync(lockDir, 65534, 65534);
    const err = await rejection(ensureLockDir(lockDir));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(
      `lock directory ${lockDir} belongs to another user (uid 65534): refusing it (set RETAG_LOCK_DIR or --lock-dir to a directory of your own)`,
    );
    const st = statSync(lockDir);
    expect(st.uid).toBe(65534);
    expect(st.mode & 0o777).toBe(0o777); // not "fixed" by chmod: someone else's directory
  });

  // Regression: ensureLockDir used to mkdir before it looked, so a file or a dangling symlink in
  // the way was a raw EEXIST/ENOENT crash (exit 3) instead of exit 2.
  test.each<[string, (p: string) => void]>([
    ['a regular file', (p) => writeFileSync(p, '')],
    ['a symlink to a file', (p) => {
      writeFileSync(`${p}.target`, '');
      symlinkSync(`${p}.target`, p);
    }],
    ['a dangling symlink', (p) => symlinkSync(path.join(dir, 'does-not-exist'), p)],
  ])('%s as the lock directory is refused with a UsageError (exit 2)', async (_name, make) => {
    const p = fresh('notadir');
    make(p);
    const err = await rejection(ensureLockDir(p));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(2);
  });
});

describe('acquireRunDirLock', () => {
  test('a second acquire of a held run directory: ExitError exit 4 naming the directory; free again after release', async () => {
    const runDir = fresh('run');
    mkdirSync(runDir);
    const first = await acquireRunDirLock(runDir, onCompromised);
    try {
      expect(first.path).toBe(path.join(runDir, RUN_DIR_LOCK));
      const owner = JSON.parse(readFileSync(`${first.path}.owner`, 'utf8')) as { pid: number; host: string };
      expect({ pid: owner.pid, host: owner.host }).toEqual({ pid: process.pid, host: os.hostname() });
      expect(statSync(`${first.path}.owner`).mode & 0o777).toBe(0o600);
      const err = await rejection(acquireRunDirLock(runDir, onCompromised));
      expect(err.exitCode).toBe(4);
      expect(err.message).toContain(`run directory ${runDir} is in use by another retag process`);
    } finally {
      await first.release();
    }
    expect(existsSync(path.join(runDir, RUN_DIR_LOCK))).toBe(false);
    expect(existsSync(path.join(runDir, `${RUN_DIR_LOCK}.owner`))).toBe(false);
    const again = await acquireRunDirLock(runDir, onCompromised);
    await again.release();
  });

  test('a lock whose owner file names a dead process of this host is taken over at once', async () => {
    const pid = await deadPid();
    const runDir = fresh('dead');
    const lockPath = leaveLock(runDir, { pid, host: os.hostname() });
    const started = Date.now();
    const lock = await acquireRunDirLock(runDir, onCompromised); // default staleness: 15 s
    try {
      // Well under the staleness: the dead holder, not an old heartbeat, let it go.
      expect(Date.now() - started).toBeLessThan(LOCK_STALE_MS / 3);
      const owner = JSON.parse(readFileSync(`${lockPath}.owner`, 'utf8')) as { pid: number };
      expect(owner.pid).toBe(process.pid);
      // And it is really held now.
      expect((await rejection(acquireRunDirLock(runDir, onCompromised))).exitCode).toBe(4);
    } finally {
      await lock.release();
    }
  });

  test('a lock whose owner file names a live process is not taken over: exit 4', async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const runDir = fresh('live');
      leaveLock(runDir, { pid: holder.pid!, host: os.hostname() });
      const err = await rejection(acquireRunDirLock(runDir, onCompromised));
      expect(err.exitCode).toBe(4);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  test('a dead pid recorded by another host proves nothing there: exit 4 until stale', async () => {
    const pid = await deadPid();
    const runDir = fresh('otherhost');
    leaveLock(runDir, { pid, host: `${os.hostname()}-elsewhere` });
    const err = await rejection(acquireRunDirLock(runDir, onCompromised));
    expect(err.exitCode).toBe(4);
  });

  test('no owner file, fresh heartbeat: exit 4', async () => {
    const runDir = fresh('noowner');
    mkdirSync(path.join(runDir, RUN_DIR_LOCK), { recursive: true });
    expect((await rejection(acquireRunDirLock(runDir, onCompromised))).exitCode).toBe(4);
  });

  afterAll(() => {
    expect(compromised).toEqual([]);
  });
});
