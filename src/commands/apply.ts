import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileErrorReason, UsageError } from '../errors.js';
import type { GuardedOp } from '../plan/types.js';
import { PLAN_FILE } from '../report/run-dir.js';
import { guardedSource } from '../runner/sources.js';
import { shellQuote } from '../report/human.js';
import type { CommandIO } from './common.js';
import { executeRun, type WriteOptions } from './execute.js';

export interface ApplyCommandOptions extends WriteOptions {
  /** plan.ndjson, or the run directory holding it. */
  plan: string;
}

function isTagList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((t) => typeof t === 'string');
}

/**
 * Read a saved plan: its header, then the items it would change. Every problem is collected
 * with its line; any problem is exit 2 before a request.
 */
export async function readPlan(file: string): Promise<{ header: Record<string, unknown>; items: Map<string, GuardedOp> }> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const problems: string[] = [];
  const items = new Map<string, GuardedOp>();
  let header: Record<string, unknown> | undefined;
  let lineNo = 0;
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      if (line.trim() === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        problems.push(`${file}:${lineNo}: not JSON`);
        continue;
      }
      const o = v as Record<string, unknown>;
      if (header === undefined) {
        if (typeof o !== 'object' || o === null || o.retag_plan !== 1) {
          problems.push(`${file}:${lineNo}: not a retag plan (the first line must be the header {"retag_plan": 1, …}; make one with retag plan)`);
          break;
        }
        header = o;
        continue;
      }
      if (typeof o !== 'object' || o === null || typeof o.id !== 'string' || o.id === '') {
        problems.push(`${file}:${lineNo}: a plan line needs an "id"`);
        continue;
      }
      if (o.action !== 'update') continue; // unchanged / not_found / conflict: nothing to write
      if (!isTagList(o.after) || !(o.before === null || isTagList(o.before))) {
        problems.push(`${file}:${lineNo}: "before" and "after" must be lists of tags`);
        continue;
      }
      if (items.has(o.id)) {
        problems.push(`${file}:${lineNo}: ${o.id} appears twice in the plan`);
        continue;
      }
      items.set(o.id, { kind: 'guarded', expect: o.before as string[] | null, write: o.after });
    }
  } catch (error) {
    throw new UsageError(`cannot read the plan ${file}: ${fileErrorReason(error)}`, { cause: error });
  } finally {
    input.destroy();
  }
  if (header === undefined && problems.length === 0) problems.push(`${file}: the plan is empty`);
  if (problems.length > 0) throw new UsageError(problems.slice(0, 20).join('\n'));
  return { header: header!, items };
}

/**
 * `retag apply <plan>`: write exactly the `after` a saved plan shows, only where the image still
 * holds the plan's `before`; anything else is a conflict (not written, conflicts.ndjson, exit 1).
 * The manifest is never read again: what was reviewed is what is written.
 */
export async function applyCommand(options: ApplyCommandOptions, io: CommandIO): Promise<number> {
  let file = options.plan;
  try {
    if ((await stat(file)).isDirectory()) file = path.join(file, PLAN_FILE);
  } catch (error) {
    throw new UsageError(`cannot read the plan ${file}: ${fileErrorReason(error)}`, { cause: error });
  }
  const { header, items } = await readPlan(file);
  return executeRun(
    {
      command: 'apply',
      input: file,
      resumeCommand: `retag apply ${shellQuote(options.plan)}`,
      source: guardedSource(items),
      options: { ...options, read: true },
      summaryExtra: { plan: file },
      prepare: async (_dir, logger) => {
        logger.info({ plan: file, manifest: header.manifest, created: header.created, items: items.size }, `applying the plan of ${String(header.manifest)} made ${String(header.created)}`);
      },
    },
    io,
  );
}
