/**
 * A write's pending and outcome lines are built from pieces made once per item
 * (journalItemText + journalLineWith): exactly the text of the one-object JSON.stringify line the
 * journal has always had (keys in order, undefined ones left out), so every reader of the
 * journal reads the same bytes.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { journalItemText, journalLine, journalLineWith, journalTime } from '../src/runner/journal.js';
import type { JournalEntry } from '../src/runner/types.js';

/** The line as the journal wrote it before: one ordered object, stringified. */
function reference(e: JournalEntry): string {
  const o: Record<string, unknown> = { id: e.id, outcome: e.outcome };
  if (e.reason !== undefined) o.reason = e.reason;
  o.before = e.before;
  o.after = e.after;
  if (e.expect !== undefined) o.expect = e.expect;
  if (e.op !== undefined) o.op = e.op;
  o.attempts = e.attempts;
  if (e.status !== undefined) o.status = e.status;
  if (e.error !== undefined) o.error = e.error;
  o.at = e.at;
  return `${JSON.stringify(o)}\n`;
}

const text = fc.constantFrom('a', 'é', '"', '\\', '\u2028', '\ud800', 'id', '');
const tags = fc.option(fc.array(text, { maxLength: 3 }), { nil: null });
const entry = fc.record(
  {
    id: text,
    outcome: fc.constantFrom('pending', 'updated', 'failed', 'conflict', 'unsent'),
    reason: fc.constantFrom('network', 'not_found'),
    before: tags,
    after: tags,
    expect: tags,
    op: fc.constantFrom({ kind: 'set', tags: ['a'] }, { kind: 'merge', add: ['"b'], remove: [] }),
    attempts: fc.nat(5),
    status: fc.constantFrom(200, 429),
    error: text,
    at: fc.constantFrom('2026-12-01T00:00:00.000Z'),
  },
  { requiredKeys: ['id', 'outcome', 'before', 'after', 'attempts', 'at'] },
) as fc.Arbitrary<JournalEntry>;

describe('journal lines from per-item pieces', () => {
  test('journalLineWith(e, journalItemText(e)) and journalLine(e) are the stringified object, byte for byte', () => {
    fc.assert(
      fc.property(entry, (e) => {
        const want = reference(e);
        expect(journalLine(e)).toBe(want);
        expect(journalLineWith(e, journalItemText(e))).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });

  test('one item text serves the pending and the outcome line', () => {
    const base = { id: 'img-1', before: null, after: ['x', 'y'], op: { kind: 'set' as const, tags: ['x', 'y'] } };
    const item = journalItemText(base);
    expect(journalLineWith({ ...base, outcome: 'pending', attempts: 0, at: 't' }, item)).toBe(
      '{"id":"img-1","outcome":"pending","before":null,"after":["x","y"],"op":{"kind":"set","tags":["x","y"]},"attempts":0,"at":"t"}\n',
    );
    expect(journalLineWith({ ...base, outcome: 'updated', attempts: 1, status: 200, at: 't' }, item)).toBe(
      '{"id":"img-1","outcome":"updated","before":null,"after":["x","y"],"op":{"kind":"set","tags":["x","y"]},"attempts":1,"status":200,"at":"t"}\n',
    );
  });

  test('journalTime(ms) is new Date(ms).toISOString(), whatever the order of the calls', () => {
    const now = Date.parse('2026-12-02T10:25:28.999Z');
    const ms = fc.oneof(
      fc.integer({ min: now - 3000, max: now + 3000 }), // the same second and its neighbours, often
      fc.double({ min: 0, max: 253402300799999, noNaN: true }), // 1970 to 9999, fractions too
      fc.constantFrom(0, 999, 1000, now, now + 1),
    );
    fc.assert(
      fc.property(fc.array(ms, { minLength: 1, maxLength: 20 }), (times) => {
        for (const t of times) expect(journalTime(t)).toBe(new Date(t).toISOString());
      }),
      { numRuns: 500 },
    );
  });
});
