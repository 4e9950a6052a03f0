import { ExitCode } from '../errors.js';
import { createScrubber } from '../secrets.js';
import { parseListPage } from '../reimage/list-parse.js';
import { openApiSession, type ApiOptions, type CommandIO } from './common.js';

export interface ProbeCommandOptions extends ApiOptions {
  pageSize: number;
}

/**
 * `retag probe`: GET /get/?page=1 once and show the raw response and how retag reads it, before
 * any write. The list endpoint's response shape is undocumented (reimage-api.md §3.1): this is
 * how a user checks, on their own account, that ids and current tags come through.
 */
export async function probeCommand(options: ProbeCommandOptions, io: CommandIO): Promise<number> {
  const session = await openApiSession(options, io);
  try {
    const path = `/get/?page=1&page_size=${options.pageSize}`;
    const result = await session.executor.execute('read', () => session.client.getRaw(path));
    if (!result.ok) {
      const message = result.error instanceof Error ? result.error.message : String(result.error);
      io.stderr.write(createScrubber([session.apiKey])(`retag probe: GET ${path} failed: ${message}\n`));
      return ExitCode.aborted;
    }
    const raw = result.value;
    // A server may echo the Authorization header: every line shown is scrubbed of the key.
    const scrub = createScrubber([session.apiKey]);
    const out = (text: string) => io.stdout.write(scrub(text));
    const text = typeof raw === 'string' ? raw : JSON.stringify(raw, null, 2);
    out(`GET ${path}\n${text.length > 4000 ? `${text.slice(0, 4000)}\n… (${text.length} characters in all)` : text}\n\n`);
    try {
      const page = parseListPage(raw);
      const withTags = page.records.filter((r) => r.tags !== null).length;
      const meta = Object.entries(page.meta).map(([k, v]) => `${k}=${String(v)}`).join(', ') || 'none';
      const first = page.records[0];
      out(
        `retag reads: ${page.records.length} record${page.records.length === 1 ? '' : 's'} on page 1, ` +
          `${withTags} with their tags; paging metadata: ${meta}\n` +
          (first ? `first record: ${JSON.stringify({ id: first.id, tags: first.tags })}\n` : '') +
          (page.records.some((r) => r.tagsFromString)
            ? 'Tags come as one comma-joined string: a tag holding a comma cannot be read back (retag stops before writing one).\n'
            : '') +
          (page.records.length > 0 && withTags === 0
            ? 'The records carry no tags: add/remove rules cannot be merged safely; only --no-read with set/clear rules can run.\n'
            : ''),
      );
      return page.records.length > 0 && withTags === 0 ? ExitCode.aborted : ExitCode.ok;
    } catch (error) {
      out(`retag cannot read this response: ${(error as Error).message}\n`);
      return ExitCode.aborted;
    }
  } finally {
    await session.close();
  }
}
