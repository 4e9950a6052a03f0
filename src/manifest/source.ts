import { createReadStream, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileErrorReason, UsageError } from '../errors.js';
import { decodeWhole } from './decode.js';
import { manifestDisplayName, STDIN_PATH, type ManifestStream, type ResolvedManifestOptions } from './options.js';
import type { ManifestProblem, ManifestWarning, Rule } from './types.js';

/** What a reader yields, in file order: a validated rule, a problem, or a warning. */
export type ManifestItem = { rule: Rule } | { problem: ManifestProblem } | { warning: ManifestWarning };

/** A rule or a problem: what readRules yields (warnings go to its onWarning option). */
export type RuleOrProblem = { rule: Rule } | { problem: ManifestProblem };

function cannotRead(name: string, error: unknown): UsageError {
  const reason = fileErrorReason(error);
  return new UsageError(`cannot read manifest ${name}: ${reason}`, { cause: error });
}

/** Fail early, as a usage error, when the manifest is missing or not a regular file. */
async function assertFile(file: string): Promise<void> {
  let info;
  try {
    info = await stat(file);
  } catch (error) {
    throw cannotRead(manifestDisplayName(file), error);
  }
  if (info.isDirectory()) {
    throw cannotRead(manifestDisplayName(file), Object.assign(new Error('directory'), { code: 'EISDIR' }));
  }
}

/** An open manifest: its bytes, and its name as messages show it (`<stdin>` for `-`). */
export interface ManifestInput {
  name: string;
  bytes: ManifestStream;
  /** Releases the file (standard input is left open: it is not ours). */
  close(): void;
}

/** Read errors in the middle of the file become usage errors naming it. */
async function* guarded(name: string, stream: ManifestStream): ManifestStream {
  try {
    yield* stream;
  } catch (error) {
    throw error instanceof UsageError ? error : cannotRead(name, error);
  }
}

/**
 * Opens the manifest (after checking that it exists, so the common errors are usage errors), or
 * standard input for `-` (`opts.stdin` when given, for tests).
 */
export async function openManifestInput(file: string, opts: Pick<ResolvedManifestOptions, 'stdin'>): Promise<ManifestInput> {
  const name = manifestDisplayName(file);
  if (file === STDIN_PATH) {
    return { name, bytes: guarded(name, opts.stdin ?? process.stdin), close: () => undefined };
  }
  await assertFile(file);
  const stream: ReadStream = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    const onOpen = (): void => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (error: Error): void => {
      stream.off('open', onOpen);
      reject(cannotRead(name, error));
    };
    stream.once('open', onOpen);
    stream.once('error', onError);
  });
  return { name, bytes: guarded(name, stream), close: () => stream.destroy() };
}

/** The whole manifest as text (BOM removed), with the lines that are not valid in its encoding. */
export async function readManifestText(
  file: string,
  opts: Pick<ResolvedManifestOptions, 'stdin' | 'codec'>,
): Promise<{ name: string; text: string; badLines: Array<{ line: number; message: string }> }> {
  const input = await openManifestInput(file, opts);
  try {
    return { name: input.name, ...(await decodeWhole(input.bytes, opts.codec)) };
  } finally {
    input.close();
  }
}
