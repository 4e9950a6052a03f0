import { createReadStream, type ReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { fileErrorReason, UsageError } from '../errors.js';
import type { ManifestProblem, Rule } from './types.js';

/** What a reader yields: a validated rule or a problem, in file order. */
export type ManifestItem = { rule: Rule } | { problem: ManifestProblem };

function cannotRead(file: string, error: unknown): UsageError {
  const reason = fileErrorReason(error);
  return new UsageError(`cannot read manifest ${file}: ${reason}`, { cause: error });
}

/** Fail early, as a usage error, when the manifest is missing or not a regular file. */
async function assertFile(file: string): Promise<void> {
  let info;
  try {
    info = await stat(file);
  } catch (error) {
    throw cannotRead(file, error);
  }
  if (info.isDirectory()) throw cannotRead(file, Object.assign(new Error('directory'), { code: 'EISDIR' }));
}

/** The whole file as text, without a UTF-8 BOM. */
export async function readManifestText(file: string): Promise<string> {
  await assertFile(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw cannotRead(file, error);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A byte stream of the file (opened after checking it exists, so the common errors are usage errors). */
export async function openManifestStream(file: string, encoding?: BufferEncoding): Promise<ReadStream> {
  await assertFile(file);
  const stream = createReadStream(file, encoding ? { encoding } : {});
  await new Promise<void>((resolve, reject) => {
    const onOpen = (): void => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (error: Error): void => {
      stream.off('open', onOpen);
      reject(cannotRead(file, error));
    };
    stream.once('open', onOpen);
    stream.once('error', onError);
  });
  return stream;
}
