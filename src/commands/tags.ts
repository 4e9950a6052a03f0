import { randomUUID } from 'node:crypto';
import { ExitCode, ExitError, signalExitCode, type StopSignal } from '../errors.js';
import { suggestRenames, TagInventory, type TagCount } from '../plan/inventory.js';
import { createScanProgress } from '../report/progress.js';
import { writeFileAtomic } from '../report/run-dir.js';
import { RunAbort } from '../runner/abort.js';
import { newPassStats, scanLibrary } from '../runner/scan.js';
import { openApiSession, type ApiOptions, type CommandIO } from './common.js';

export interface TagsCommandOptions extends ApiOptions {
  pageSize: number;
  /** Default: table on a terminal, csv otherwise. */
  format?: 'table' | 'csv' | 'json';
  /** Write a rename map of likely duplicates here (a `from,to` CSV manifest). */
  suggest?: string;
}

/** A CSV field, quoted when it must be. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

export function renderTags(tags: readonly TagCount[], format: 'table' | 'csv' | 'json'): string {
  if (format === 'json') return `${JSON.stringify(tags, null, 2)}\n`;
  if (format === 'csv') return `tag,images\n${tags.map((t) => `${csvField(t.tag)},${t.images}`).join('\n')}${tags.length > 0 ? '\n' : ''}`;
  const width = Math.max(3, ...tags.map((t) => String(t.images).length));
  return tags.map((t) => `${String(t.images).padStart(width)}  ${t.tag}`).join('\n') + (tags.length > 0 ? '\n' : '');
}

/**
 * `retag tags`: every tag in the library with its image count (one scan of GET /get/, through
 * the same executor as a run), and with --suggest a rename map of likely duplicate spellings.
 */
export async function tagsCommand(options: TagsCommandOptions, io: CommandIO): Promise<number> {
  const session = await openApiSession(options, io, { runId: randomUUID() });
  const { logger, executor, client } = session;
  let interrupted: StopSignal | undefined;
  const unregister = io.onInterrupt((signal) => {
    interrupted = signal;
    executor.abort(`interrupted by ${signal}`);
  });
  const inventory = new TagInventory();
  const stats = newPassStats();
  const progress = createScanProgress({ stream: io.stderr, logger });
  try {
    for await (const records of scanLibrary(client, executor, options.pageSize, logger, stats)) {
      for (const r of records) {
        if (r.tags === null) throw new RunAbort('list_shape', `the listing (GET /get/) returned ${r.id} without its tags: cannot count them`);
        inventory.add(r.tags);
      }
      progress.scan({ pages: stats.pages, images: stats.distinct });
    }
    progress.stop();
    if (interrupted) return signalExitCode(interrupted);
    const tags = inventory.result();
    const format = options.format ?? ((io.stdout as { isTTY?: boolean }).isTTY ? 'table' : 'csv');
    io.stdout.write(renderTags(tags, format));
    let suggested = 0;
    if (options.suggest !== undefined) {
      const renames = suggestRenames(tags);
      suggested = renames.length;
      await writeFileAtomic(options.suggest, `from,to\n${renames.map((r) => `${csvField(r.from)},${csvField(r.to)}`).join('\n')}${renames.length > 0 ? '\n' : ''}`);
    }
    io.stderr.write(
      `retag tags: ${tags.length} tags on ${inventory.images} images (${stats.pages} pages, ${executor.counters.total} requests)` +
        (options.suggest !== undefined ? `; ${suggested} likely duplicate spellings written to ${options.suggest} (edit it, then retag plan ${options.suggest})` : '') +
        '\n',
    );
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof RunAbort) throw new ExitError(ExitCode.aborted, `tags failed: ${error.message}`);
    throw error;
  } finally {
    progress.stop();
    unregister();
    await session.close();
  }
}
