/**
 * The sources of items the engine runs (design.md §1): rules from a manifest (run, job, rename,
 * strip), and guarded writes (apply of a saved plan, undo of a run). Each decides through a pure
 * function of src/plan/.
 */
import { decideImage, type RuleSet } from '../plan/rule-set.js';
import { decideGuarded } from '../plan/resolve.js';
import type { GuardedOp, ItemOp } from '../plan/types.js';
import type { ItemSource } from './engine.js';

/** Every tag an operation can write, to find one holding a comma (design.md §3). */
function commaTagOf(tags: Iterable<string>): string | undefined {
  for (const t of tags) if (t.includes(',')) return t;
  return undefined;
}

/** Items from a manifest's rules: id rules, and library-wide rules over every image. */
export function ruleSource(rules: RuleSet, writable: Iterable<string> = []): ItemSource {
  const library = rules.libraryWide;
  const commaTag = commaTagOf(writable);
  return {
    wholeLibrary: library,
    idCount: rules.idCount,
    ids: () => rules.ids(),
    has: (id) => rules.hasId(id),
    indexOf: (id) => rules.indexOf(id),
    idOp: (id) => rules.idOp(id),
    staticOps: !library,
    ...(commaTag !== undefined ? { commaTag } : {}),
    decide: (id, current) => decideImage(rules, id, current),
  };
}

/** One guarded write: write `write` where the image still holds `expect`. */
export interface GuardedItem {
  id: string;
  op: GuardedOp;
}

/** Items that each say "write W, but only where the image still holds E" (apply, undo). */
export function guardedSource(items: Map<string, GuardedOp>): ItemSource {
  const tags = (function* () {
    for (const op of items.values()) yield* op.write;
  })();
  const commaTag = commaTagOf(tags);
  return {
    wholeLibrary: false,
    idCount: items.size,
    ids: () => items.keys(),
    has: (id) => items.has(id),
    idOp: (id): ItemOp | undefined => items.get(id),
    staticOps: true,
    ...(commaTag !== undefined ? { commaTag } : {}),
    decide: (id, current) => {
      const op = items.get(id);
      return op === undefined ? undefined : decideGuarded(id, op, current);
    },
  };
}
