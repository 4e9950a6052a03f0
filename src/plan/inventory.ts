/**
 * The tag inventory (`retag tags`) and likely duplicate spellings (`--suggest`), pure.
 */
import { byTag, normalizeTags } from './normalize.js';

export interface TagCount {
  tag: string;
  images: number;
}

/** Counts images per (normalised) tag, as pages of the listing go by. Memory: one entry per distinct tag. */
export class TagInventory {
  readonly #counts = new Map<string, number>();
  images = 0;

  add(tags: readonly string[]): void {
    this.images++;
    for (const t of normalizeTags(tags)) this.#counts.set(t, (this.#counts.get(t) ?? 0) + 1);
  }

  /** Most used first; ties by tag (code point order), so the output is stable. */
  result(): TagCount[] {
    return [...this.#counts]
      .map(([tag, images]) => ({ tag, images }))
      .sort((a, b) => b.images - a.images || byTag(a.tag, b.tag));
  }
}

/**
 * The key under which likely duplicate spellings meet: case folded, trimmed, NFC with
 * diacritics removed, and space, `-` and `_` interchangeable ("Hero Banner" = "hero_banner").
 */
export function spellingKey(tag: string): string {
  return tag
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .normalize('NFC')
    .toLowerCase()
    .trim()
    .replace(/[\s_-]+/gu, ' ');
}

/**
 * Groups of spellings that share a key, each mapped to its most used spelling (ties: the first in
 * inventory order): a rename map `{from, to}` per other spelling, most used group first.
 */
export function suggestRenames(inventory: readonly TagCount[]): Array<{ from: string; to: string; images: number }> {
  const groups = new Map<string, TagCount[]>();
  for (const entry of inventory) {
    const key = spellingKey(entry.tag);
    const group = groups.get(key);
    if (group) group.push(entry);
    else groups.set(key, [entry]);
  }
  const out: Array<{ from: string; to: string; images: number }> = [];
  for (const group of groups.values()) {
    // Stryker disable next-line ConditionalExpression: equivalent: a group of one has no other spelling to suggest
    if (group.length < 2) continue;
    const [top, ...others] = group; // inventory order: most used first
    for (const o of others) out.push({ from: o.tag, to: top!.tag, images: o.images });
  }
  return out;
}
