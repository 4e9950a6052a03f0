/**
 * One library and one manifest for the "server we did not write" acceptance tests (integration
 * and e2e share them). Carol's key sees 32 images of her own plus one of Dave's shared with her
 * (readable, not writable); with the page size capped at 7 the listing takes 5 pages plus the
 * empty one that ends it, and the manifest touches an image on the last, short page.
 */
import type { ForeignImage } from './foreign-server.js';
import { applyRuleOps, oracleTags, sameMembers, type OracleRule } from './oracle.js';

export const CAROL_KEY = 'sk_foreign_carol_7c1d';
export const DAVE_KEY = 'sk_foreign_dave_0b2e';

export function foreignImages(): ForeignImage[] {
  const images: ForeignImage[] = [];
  const pad = (n: number) => String(n).padStart(2, '0');
  for (let n = 1; n <= 30; n++) {
    const id = `c-${pad(n)}`;
    const tags =
      n === 1 ? ['product', 'hero']
      : n === 2 ? ['product', 'catalog-2025']
      : n === 3 ? ['draft', 'summer sale', 'product']
      : n === 4 ? ['product']
      : n === 5 ? ['product']
      : n === 6 ? ['old', 'product']
      : n === 7 ? []
      : n === 8 ? ['a', 'b']
      : n === 9 ? ['old', 'keep', 'new']
      : n === 10 ? ['hero']
      : n % 3 === 0 ? ['bulk', 'product']
      : ['product'];
    images.push({ id, owner: 'carol', tags });
  }
  images.push({ id: 'café-01', owner: 'carol', tags: ['photo'] });
  images.push({ id: 'pic(2)', owner: 'carol', tags: ['photo', 'product'] });
  images.push({ id: 'd-01', owner: 'dave', tags: ['dave'], sharedWith: ['carol'] });
  images.push({ id: 'd-02', owner: 'dave', tags: ['dave'] });
  return images;
}

/** Listed, but deleted by the time it is written: 404 on update. */
export const VANISHING = ['c-05'];

export function foreignRules(): Array<Record<string, unknown>> {
  const rules: Array<Record<string, unknown>> = [
    { id: 'c-01', add: ['catalog-2025'] }, // update
    { id: 'c-02', add: ['catalog-2025'] }, // already there: unchanged, no request
    { id: 'c-03', remove: ['draft'] }, // update
    { id: 'c-04', remove: ['draft'], _note: 'not there: unchanged' },
    { id: 'c-05', set: ['x'] }, // vanishes: 404
    { id: 'c-06', clear: true }, // update to []
    { id: 'c-07', clear: true }, // no tags already: unchanged
    { id: 'c-08', set: ['b', 'a'] }, // same members: unchanged
    { id: 'c-09', add: ['new'] }, // three rules composed in file order
    { id: 'c-10', set: [' summer sale ', 'hero', 'hero'] }, // normalised
    { id: 'c-09', remove: ['old'] },
    { id: 'c-09', add: ['z'], remove: ['new'] },
    { id: 'c-30', add: ['tail'] }, // on the last (short) page
    { id: 'café-01', add: ['naïve tag'] },
    { id: 'pic(2)', remove: ['photo'] },
    { id: 'd-01', add: ['x'] }, // Dave's, shared read-only with Carol: 403
    { id: 'd-02', add: ['x'] }, // Dave's, not visible: not_found, no request
    { id: 'ghost-404', set: ['x'] }, // unknown: not_found, no request
  ];
  for (let n = 11; n <= 29; n++) rules.push({ id: `c-${n}`, add: ['bulk'] }); // every third already has it
  return rules;
}

/** Failures the manifest must produce against Carol's key, by id → reason. */
export const EXPECTED_FAILURES: Record<string, 'not_found' | 'forbidden'> = {
  'c-05': 'not_found',
  'd-01': 'forbidden',
  'd-02': 'not_found',
  'ghost-404': 'not_found',
};

/** design.md §2 normalisation: the oracle's (test/helpers/oracle.ts), the one independent copy. */
export function normalizeTags(tags: readonly string[]): string[] {
  return oracleTags(tags);
}

/**
 * What an id's rules compose to, applied rule by rule in file order to `before` (the rules are
 * those of one id: each applies), with the oracle's per-rule semantics.
 */
export function expectedAfter(before: readonly string[], rules: ReadonlyArray<Record<string, unknown>>): string[] {
  return rules.reduce<string[]>((tags, rule) => applyRuleOps(tags, rule as OracleRule), oracleTags(before));
}

export { sameMembers };

/** id → its rules in file order. */
export function rulesById(rules: ReadonlyArray<Record<string, unknown>>): Map<string, Array<Record<string, unknown>>> {
  const byId = new Map<string, Array<Record<string, unknown>>>();
  for (const rule of rules) {
    const id = rule.id as string;
    byId.set(id, [...(byId.get(id) ?? []), rule]);
  }
  return byId;
}

/** Ids whose composed result equals what they already hold (no request must be sent for them). */
export function alreadyAsWanted(images: readonly ForeignImage[], rules: ReadonlyArray<Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const [id, idRules] of rulesById(rules)) {
    const image = images.find((i) => i.id === id);
    if (!image) continue;
    if (sameMembers(expectedAfter(image.tags, idRules), normalizeTags(image.tags))) out.push(id);
  }
  return out;
}
