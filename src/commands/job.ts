import { defaultLockDir, acquireJobLock } from '../runner/lock.js';
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
  const runOptions = { ...toRunOptions(job.options, job.manifest), command: `job ${job.name}` };
  let compromised: Error | undefined;
  const lock = await acquireJobLock(job.name, options.lockDir ?? defaultLockDir(io.env), (error) => {
    compromised = error;
    io.stderr.write(`retag: lost the lock of job "${job.name}": ${error.message}\n`);
  });
  try {
    return await runCommand(runOptions, io);
  } finally {
    if (!compromised) await lock.release();
  }
}
