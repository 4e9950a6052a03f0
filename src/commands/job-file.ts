import { readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { UsageError } from '../errors.js';

/** Job names become lock file names: keep them to a safe alphabet. */
const jobName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'use letters, digits, ".", "_" and "-" (at most 100)');
const count = z.number().int().positive();

/** The `run` options a job may set, in camelCase (design.md §7). Unknown keys are errors. */
export const JobOptionsSchema = z
  .object({
    rate: z.union([z.number().positive(), z.literal('auto')]),
    concurrency: count.max(256),
    retries: z.number().int().min(0).max(100),
    timeout: z.number().positive(),
    maxRetryAfter: z.number().positive(),
    maxFailures: z.union([z.number().int().min(0), z.string().regex(/^\d+(\.\d+)?%?$/, 'a count like 10 or a share like "5%"')]),
    pageSize: count.max(10_000),
    read: z.boolean(),
    skipInvalid: z.boolean(),
    format: z.enum(['csv', 'json', 'ndjson']),
    tagSeparator: z.string().min(1),
    maxTagLength: count,
    out: z.string(),
    baseUrl: z.string().url(),
    apiKeyFile: z.string(),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    logFile: z.string(),
    verify: z.boolean(),
    maxChanges: z.number().int().min(0),
  })
  .partial()
  .strict();

export const JobSchema = z
  .object({
    name: jobName,
    manifest: z.string().min(1),
    description: z.string().optional(),
    options: JobOptionsSchema.default({}),
  })
  .strict();

export type JobOptions = z.infer<typeof JobOptionsSchema>;
export interface Job {
  name: string;
  /** Absolute or cwd-relative path: the job file's `manifest`, resolved against the job file. */
  manifest: string;
  options: JobOptions;
  file: string;
}

/** Read and validate a job file (JSON, or YAML for .yaml/.yml); every problem named by its path. */
export async function loadJobFile(file: string): Promise<Job> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: cannot read the job file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(error as Error).message}`);
  }
  const parsed = JobSchema.safeParse(data);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `${file}: ${where}: ${issue.message}`;
    });
    throw new UsageError(`invalid job file:\n${lines.join('\n')}`);
  }
  const job = parsed.data;
  return {
    name: job.name,
    manifest: path.isAbsolute(job.manifest) ? job.manifest : path.join(path.dirname(file), job.manifest),
    options: job.options,
    file,
  };
}
