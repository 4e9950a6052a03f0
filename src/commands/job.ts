import { shellQuote } from '../report/human.js';
import { defaultLockDir, acquireJobLock, lockStaleMs } from '../runner/lock.js';
import type { CommandIO } from './common.js';
import { loadJobFile, type JobOptions } from './job-file.js';
import { runCommand, type RunCommandOptions } from './run.js';

/**
 * `retag job <file>`: validate the job file, take the job's lock, run its manifest with its
 * options (command-line flags win), release the lock. A second run of the same job exits 4.
 */
export async function jobCommand(
  file: string,
  toRunOptions: (jobOptions: JobOptions, manifest: string) => RunCommandOptions,
  options: { lockDir?: string },
  io: CommandIO,
): Promise<number> {
  const job = await loadJobFile(file);
  // Options are checked (exit 2) before the lock is taken or anything is sent.
  const runOptions = { ...toRunOptions(job.options, job.manifest), command: `job ${job.name}`, resumeCommand: `retag job ${shellQuote(file)}` };
  const staleMs = lockStaleMs(io.env);
  // Losing the lock mid-run (its directory removed, or this process stalled past the stale time
  // so another run took it over) stops the run: two runs of one job must not overlap.
  const lost = new AbortController();
  let compromised: Error | undefined;
  const lock = await acquireJobLock(
    job.name,
    options.lockDir ?? defaultLockDir(io.env),
    (error) => {
      compromised = error;
      lost.abort(new Error(`lost the lock of job "${job.name}" (${error.message})`));
    },
    staleMs,
  );
  try {
    return await runCommand({ ...runOptions, stopSignal: lost.signal }, io);
  } finally {
    if (!compromised) await lock.release();
  }
}
