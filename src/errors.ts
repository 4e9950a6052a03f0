/**
 * Exit codes (design.md §6) and the one error type that carries them.
 * Commands throw; only src/cli.ts turns an error into process.exit.
 */
export const ExitCode = {
  ok: 0,
  itemsFailed: 1,
  badInput: 2,
  aborted: 3,
  locked: 4,
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
