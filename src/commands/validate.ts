import { ExitCode } from '../errors.js';
import { formatProblem, validateManifest } from '../manifest/index.js';
import { manifestReadOptions, type CommandIO, type ManifestReadOptions } from './common.js';

export interface ValidateCommandOptions extends ManifestReadOptions {
  manifest: string;
  /** `--no-read` rules: add/remove are errors. */
  read: boolean;
}

/** `retag validate`: no network, streaming; every problem listed with its location. */
export async function validateCommand(options: ValidateCommandOptions, io: CommandIO): Promise<number> {
  const name = options.manifest === '-' ? '<stdin>' : options.manifest;
  const report = await validateManifest(options.manifest, {
    ...manifestReadOptions(options),
    requireSetOnly: !options.read,
    onWarning: (w) => io.stderr.write(`warning: ${formatProblem({ source: w.source, message: w.message })}\n`),
  });
  if (report.problemCount === 0) {
    io.stdout.write(`${name}: ok, ${report.ruleCount} rule${report.ruleCount === 1 ? '' : 's'}\n`);
    return ExitCode.ok;
  }
  for (const problem of report.problems) io.stderr.write(`${formatProblem(problem)}\n`);
  const more = report.problemCount - report.problems.length;
  if (more > 0) io.stderr.write(`... and ${more} more problem${more === 1 ? '' : 's'}\n`);
  io.stderr.write(
    `${name}: ${report.problemCount} problem${report.problemCount === 1 ? '' : 's'} in ${report.ruleCount} valid rule${report.ruleCount === 1 ? '' : 's'}; nothing would be sent\n`,
  );
  return ExitCode.badInput;
}
