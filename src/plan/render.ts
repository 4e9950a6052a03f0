import type { PlanSummary, TagCount } from './summary.js';

export interface RenderPlanOptions {
  /** Most frequent tags shown per list (default 10). */
  topTags?: number;
  /** Library-wide rules with the images each selected, in file order. */
  rules?: ReadonlyArray<{ rule: string; matched: number }>;
}

/** A tag as shown in a list: bare when unambiguous, JSON-quoted otherwise. */
export function showTag(tag: string): string {
  return tag === '' || /[,[\]"\\\p{Cc}]/u.test(tag) ? JSON.stringify(tag) : tag;
}

function showList(tags: readonly string[] | null): string {
  return tags === null ? '(not read)' : `[${tags.map(showTag).join(', ')}]`;
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function tagTable(title: string, sign: string, rows: TagCount[], top: number): string[] {
  if (rows.length === 0) return [];
  const shown = rows.slice(0, top);
  const names = shown.map((r) => `${sign}${showTag(r.tag)}`);
  const nameWidth = Math.max(...names.map((n) => n.length));
  const countWidth = Math.max(...shown.map((r) => String(r.count).length));
  const lines = [`${title}:`];
  shown.forEach((r, i) => lines.push(`  ${names[i]!.padEnd(nameWidth)}  ${String(r.count).padStart(countWidth)}`));
  if (rows.length > shown.length) lines.push(`  …and ${count(rows.length - shown.length, 'other tag', 'other tags')}`);
  return lines;
}

/**
 * The plan for people: `N images change, M unchanged, K not found`, the most frequent tags
 * added and removed (with the number of images), and samples `id: [a, b] → [a, c]  (+c −b)`.
 */
export function renderPlan(summary: PlanSummary, options: RenderPlanOptions = {}): string {
  const top = options.topTags ?? 10;
  const { actions } = summary;
  const lines: string[] = [];

  lines.push(
    `${count(summary.changing, 'image changes', 'images change')}, ${actions.unchanged} unchanged, ` +
      `${actions.not_found} not found${actions.conflict > 0 ? `, ${actions.conflict} in conflict` : ''} (${count(summary.total, 'image', 'images')} considered)`,
  );
  if (summary.unread > 0) {
    lines.push(
      `${count(summary.unread, 'image is', 'images are')} set without reading current tags (--no-read): ` +
        'their per-tag changes are not counted',
    );
  }

  if (options.rules && options.rules.length > 0) {
    const width = Math.max(...options.rules.map((r) => r.rule.length));
    lines.push('', 'Library-wide rules (images selected):');
    for (const r of options.rules) {
      lines.push(`  ${r.rule.padEnd(width)}  ${String(r.matched).padStart(6)}${r.matched === 0 ? '  ← matched no image' : ''}`);
    }
  }

  const added = tagTable('Tags added (images)', '+', summary.added, top);
  const removed = tagTable('Tags removed (images)', '−', summary.removed, top);
  for (const block of [added, removed]) if (block.length > 0) lines.push('', ...block);

  if (summary.samples.length > 0) {
    const labels = summary.samples.map((s) => `${s.id}:`);
    const width = Math.min(40, Math.max(...labels.map((l) => l.length)));
    lines.push('', 'Samples:');
    summary.samples.forEach((s, i) => {
      const diff = [...s.added.map((t) => `+${showTag(t)}`), ...s.removed.map((t) => `−${showTag(t)}`)];
      const tail = s.before === null ? '' : diff.length > 0 ? `  (${diff.join(' ')})` : '  (order only)';
      lines.push(`  ${labels[i]!.padEnd(width)} ${showList(s.before)} → ${showList(s.after)}${tail}`);
    });
    const more = summary.changing - summary.samples.length;
    if (more > 0) lines.push(`  …and ${count(more, 'more image', 'more images')} changing`);
  }
  return `${lines.join('\n')}\n`;
}
