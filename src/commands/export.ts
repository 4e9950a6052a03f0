import { randomUUID } from 'node:crypto';
import { ExitCode, ExitError, signalExitCode, type StopSignal } from '../errors.js';
import { normalizeTags } from '../plan/normalize.js';
import { writeNdjson } from '../report/run-dir.js';
import { readerGone } from '../report/streams.js';
import { RunAbort } from '../runner/abort.js';
import { newPassStats, scanLibrary } from '../runner/scan.js';
import { createScanProgress } from '../report/progress.js';
import { openApiSession, type ApiOptions, type CommandIO } from './common.js';

export interface ExportCommandOptions extends ApiOptions {
  /** Write here (atomically: a temp file renamed at the end); default stdout. */
  out?: string;
  pageSize: number;
}

/** One export line: a valid `set` rule, or `clear` for an image without tags. */
export type ExportLine = { id: string; set: string[] } | { id: string; clear: true };

/** Pure: an image's tags as a manifest rule that restores them (normalised, as a manifest would be). */
export function exportLine(id: string, tags: readonly string[]): ExportLine {
  const set = normalizeTags(tags);
  return set.length === 0 ? { id, clear: true } : { id, set };
}

/**
 * `retag export`: the library's id → tags as NDJSON, one valid rule per line, so the file is
 * both a backup and a manifest (`retag run backup.ndjson` restores it). Read through the same
 * scan and executor as a run (rate-limited, retried). An interrupted or failed export leaves no
 * file behind (with --out), never a partial backup that looks whole.
 */
/** Wait until the stream can take more, or its reader has gone (EPIPE arrives as 'error'). */
function drainOrGone(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('error', done);
    stream.once('close', done);
  });
}

export async function exportCommand(options: ExportCommandOptions, io: CommandIO): Promise<number> {
  const session = await openApiSession(options, io, { runId: randomUUID() });
  const { logger, executor, client } = session;
  let interrupted: StopSignal | undefined;
  const unregister = io.onInterrupt((signal) => {
    interrupted = signal;
    logger.warn({ signal }, `${signal}: stopping the export`);
    executor.abort(`interrupted by ${signal}`);
  });
  let images = 0;
  const startedAt = Date.now();
  const stats = newPassStats();
  const progress = createScanProgress({ stream: io.stderr, logger });
  async function* lines(): AsyncGenerator<ExportLine> {
    for await (const records of scanLibrary(client, executor, options.pageSize, logger, stats)) {
      progress.scan({ pages: stats.pages, images: stats.distinct });
      for (const record of records) {
        if (record.tags === null) {
          throw new RunAbort('list_shape', `the listing (GET /get/) returned ${record.id} without its tags: nothing to export`);
        }
        images++;
        yield exportLine(record.id, record.tags);
      }
    }
    // The scan ends quietly on an abort: make it an error so no partial file is renamed into place.
    if (executor.aborted) throw new RunAbort('signal', executor.abortReason ?? 'interrupted');
  }
  try {
    if (options.out !== undefined) {
      await writeNdjson(options.out, lines());
    } else {
      for await (const line of lines()) {
        // Nobody reads any more (`retag export | head -1`): stop paging, quietly.
        if (readerGone(io.stdout)) break;
        if (!io.stdout.write(`${JSON.stringify(line)}\n`) && !readerGone(io.stdout)) await drainOrGone(io.stdout);
      }
    }
    progress.stop();
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    logger.info({ images, out: options.out ?? '-', requests: { ...executor.counters } }, 'export finished');
    io.stderr.write(`retag export: ${images} images${options.out !== undefined ? ` written to ${options.out}` : ''} in ${seconds}s (${executor.counters.total} requests)\n`);
    return ExitCode.ok;
  } catch (error) {
    if (interrupted) {
      io.stderr.write(`retag export: interrupted by ${interrupted} after ${images} images; ${options.out !== undefined ? 'no file written' : 'output incomplete'}\n`);
      return signalExitCode(interrupted);
    }
    if (error instanceof RunAbort) throw new ExitError(ExitCode.aborted, `export failed: ${error.message}`);
    throw error;
  } finally {
    progress.stop();
    unregister();
    await session.close();
  }
}
