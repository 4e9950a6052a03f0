/**
 * Exit codes (design.md §6) and the one error type that carries them.
 * Commands throw; only src/cli.ts turns an error into the exit status of the process.
 */
export const ExitCode = {
  ok: 0,
  itemsFailed: 1,
  badInput: 2,
  aborted: 3,
  locked: 4,
  sighup: 129,
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the command with a given exit code and a message for people. */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bad invocation, manifest or job file: nothing was sent (exit 2). */
export class UsageError extends ExitError {
  override name = 'UsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ExitCode.badInput, message, options);
  }
}

/** The signals that stop a run gracefully (design.md §6). */
export type StopSignal = 'SIGHUP' | 'SIGINT' | 'SIGTERM';

export function signalExitCode(signal: StopSignal): ExitCode {
  return signal === 'SIGHUP' ? ExitCode.sighup : signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm;
}

/** Exit codes after which `--resume` continues the run. */
export const RESUMABLE_EXIT_CODES: ReadonlySet<number> = new Set([ExitCode.aborted, ExitCode.sighup, ExitCode.sigint, ExitCode.sigterm]);

/** The exit code of a run that got to its end (design.md §6): signal, abort, failures/conflicts, or ok. */
export function runExitCode(run: { interrupted?: StopSignal; aborted: boolean; failed: number; conflicts?: number }): ExitCode {
  if (run.interrupted) return signalExitCode(run.interrupted);
  if (run.aborted) return ExitCode.aborted;
  return run.failed > 0 || (run.conflicts ?? 0) > 0 ? ExitCode.itemsFailed : ExitCode.ok;
}

/** Why a file could not be read, in words a user can act on. */
export function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  return code ?? (error instanceof Error ? error.message : String(error));
}
