/**
 * The Jest configuration of `npm run mutate` (stryker.config.mjs): the project's Jest setup,
 * narrowed to the fast, pure unit tests of the mutated modules. No test here spawns the CLI or
 * needs `npm run build`: each mutant is tested in seconds.
 */
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: [
    // src/plan/
    '<rootDir>/test/plan.test.ts',
    '<rootDir>/test/oracle.test.ts',
    '<rootDir>/test/plan-summary.test.ts',
    '<rootDir>/test/mutation-plan.test.ts',
    // the retry policy and Retry-After parsing
    '<rootDir>/test/retry-policy.test.ts',
    '<rootDir>/test/retry-after.test.ts',
    '<rootDir>/test/mutation-retry.test.ts',
    // manifest validation
    '<rootDir>/test/manifest-validate.test.ts',
    '<rootDir>/test/manifest-where.test.ts',
    '<rootDir>/test/manifest-unicode.test.ts',
    '<rootDir>/test/mutation-validate.test.ts',
    // the journal: fold, replay, resume's reading; the scan's id marks
    '<rootDir>/test/runner-journal.test.ts',
    '<rootDir>/test/runner-journal-index.test.ts',
    '<rootDir>/test/journal-oracle.test.ts',
    '<rootDir>/test/runner-id-marks.test.ts',
    '<rootDir>/test/report-run-dir.test.ts',
    '<rootDir>/test/mutation-journal.test.ts',
  ],
};
