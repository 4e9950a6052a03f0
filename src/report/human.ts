import { join } from 'node:path';
import { RESUMABLE_EXIT_CODES } from '../errors.js';
import { formatDuration } from './progress.js';
import { CONFLICTS_FILE, FAILURES_FILE, REJECTS_FILE, type RunSummary } from './run-dir.js';

/** Quote a path for a POSIX shell only when it needs it. */
export function shellQuote(s: string): string {
  if (/^[\w./:@%+=,-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The short human summary printed on stderr when a run ends. */
export function formatRunSummary(summary: RunSummary, options: { resumeCommand?: string } = {}): string {
  const { counts, requests } = summary;
  const lines: string[] = [];

  const outcome = [
    summary.wouldChange !== undefined ? `${summary.wouldChange} would change (dry run)` : `${counts.updated} updated`,
    `${counts.unchanged} unchanged`,
    `${counts.failed} failed`,
    ...(counts.conflict > 0 ? [`${counts.conflict} in conflict`] : []),
    ...(counts.skipped > 0 ? [`${counts.skipped} skipped`] : []),
  ].join(', ');
  if (summary.wouldChange !== undefined && (summary.aborted || summary.exitCode >= 128)) {
    lines.push(`retag ${summary.command}: stopped before the plan was complete; no plan to show`);
  } else {
    lines.push(`retag ${summary.command}: ${plural(counts.total, 'item')}: ${outcome}`);
  }

  const reasons = Object.entries(summary.failuresByReason)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([reason, n]) => `${reason} ${n}`);
  if (summary.wholeRun) {
    const w = summary.wholeRun;
    lines.push(
      `  whole run: ${w.updated} updated, ${w.unchanged} unchanged, ${w.failed} failed${w.conflict > 0 ? `, ${w.conflict} in conflict` : ''} (${plural(w.total, 'item')})`,
    );
  }
  if (reasons.length > 0) lines.push(`  failures:  ${reasons.join(', ')}`);
  if (summary.rejected) {
    lines.push(`  rejected:  ${plural(summary.rejected, 'manifest problem')} skipped (--skip-invalid): see ${shellQuote(join(summary.runDir, REJECTS_FILE))}`);
  }

  if (counts.conflict > 0 && summary.wouldChange === undefined) {
    lines.push(
      `  conflicts: ${plural(counts.conflict, 'image')} changed since, left alone: see ${shellQuote(join(summary.runDir, CONFLICTS_FILE))} ` +
        `(retag run it to apply the change on top of what they hold now)`,
    );
  }
  if (summary.scanned !== undefined) lines.push(`  scanned:   ${plural(summary.scanned, 'image')}`);
  const rules = summary.rules ?? [];
  if (rules.length > 0) {
    const shown = rules.slice(0, 5).map((r) => `${r.rule} ${r.matched}`);
    lines.push(`  rules:     images selected: ${shown.join(' · ')}${rules.length > 5 ? ` · …${rules.length - 5} more (summary.json)` : ''}`);
  }
  for (const r of rules) if (r.matched === 0) lines.push(`  rule ${r.rule} matched no image`);
  if (summary.scan && summary.scan.passes > 1) {
    lines.push(
      `  scan:      ${summary.scan.passes} passes over the listing (confirming: the run wrote while it read, so the listing may have moved), ` +
        `${summary.scan.listRequests} GET requests`,
    );
  }
  lines.push(
    `  requests:  ${requests.total} (${requests.reads} reads, ${requests.writes} writes), ` +
      `${plural(requests.retries, 'retry', 'retries')}, ${requests.status429} × 429`,
  );
  if (summary.rate) {
    const achieved = summary.rate.achieved !== undefined ? `, achieved ${summary.rate.achieved}/s` : '';
    lines.push(
      summary.rate.mode === 'auto'
        ? `  rate:      auto, ended at ${summary.rate.final}/s${achieved}`
        : `  rate:      ${summary.rate.final}/s asked${achieved}`,
    );
  }
  lines.push(`  duration:  ${formatDuration(summary.durationMs / 1000)} (exit ${summary.exitCode})`);
  if (summary.aborted) lines.push(`  aborted:   ${summary.aborted}`);
  if (summary.unfinished) lines.push(`  unfinished: ${plural(summary.unfinished, 'item')} (resumable)`);
  lines.push(`  run dir:   ${summary.runDir}`);

  if (counts.failed > 0 && summary.wouldChange === undefined) {
    lines.push(`re-run failures with: retag run ${shellQuote(join(summary.runDir, FAILURES_FILE))}`);
  }
  if (summary.wouldChange === undefined && RESUMABLE_EXIT_CODES.has(summary.exitCode)) {
    const base = options.resumeCommand ?? (summary.manifest !== undefined ? `retag ${summary.command} ${shellQuote(summary.manifest)}` : undefined);
    if (base !== undefined) lines.push(`resume with: ${base} --resume ${shellQuote(summary.runDir)}`);
  }
  return `${lines.join('\n')}\n`;
}
