// @ts-check
/**
 * Mutation testing, second group (`npm run mutate` runs it after stryker.config.mjs): the other
 * safety-critical modules, with the floor of 75 % as the break threshold. Same runner,
 * tests and checker as the first group.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
import base from './stryker.config.mjs';

export default {
  ...base,
  mutate: [
    // manifest validation
    'src/manifest/validate-rule.ts',
    // the journal: its lines, the fold undo uses, resume's readDoneItems, the report replay
    'src/runner/journal.ts',
    // which ids a scan has seen and settled (found / not_found)
    'src/runner/id-marks.ts',
  ],
  htmlReporter: { fileName: 'reports/mutation/safety.html' },
  jsonReporter: { fileName: 'reports/mutation/safety.json' },
  incrementalFile: 'reports/stryker-incremental-safety.json',
  // The floor for this group; survivors left are listed in DEVELOPING.md with the reason.
  thresholds: { high: 90, low: 75, break: 75 },
};
