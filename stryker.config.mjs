// @ts-check
/**
 * Mutation testing (`npm run mutate`; not part of `npm test`): StrykerJS over the pure and
 * safety-critical modules, tested by the fast unit tests of jest.mutate.config.js.
 *
 * Jest runs in ESM mode, so the test-runner processes get --experimental-vm-modules.
 * Incremental: `npm run mutate -- --incremental` reuses reports/stryker-incremental.json.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  jest: {
    projectType: 'custom',
    configFile: 'jest.mutate.config.js',
    // A static mutant (a module-level constant) reruns every test; related test files only, then.
    enableFindRelatedTests: true,
  },
  testRunnerNodeArgs: ['--experimental-vm-modules', '--disable-warning=ExperimentalWarning'],
  coverageAnalysis: 'perTest',
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [
    'src/plan/compose.ts',
    'src/plan/rule-set.ts',
    'src/plan/resolve.ts',
    'src/plan/normalize.ts',
    'src/plan/summary.ts',
    'src/plan/inventory.ts',
    'src/runner/retry-policy.ts',
    'src/runner/retry-after.ts',
    'src/manifest/validate-rule.ts',
    // journalLine, then the reading side: entries, fold, resume's readDoneItems, replay
    'src/runner/journal.ts:20-32',
    'src/runner/journal.ts:164-459',
  ],
  concurrency: 2,
  timeoutMS: 20000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  incrementalFile: 'reports/stryker-incremental.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  // The last full run scored 78.6 % over these modules (plan/ ~75 %, retry policy 73 %, validate-rule
  // 90 %): break a few points under it so the score cannot silently drop. The aim
  // (85 % for plan/ and the retry policy, 75 % elsewhere) is not reached yet.
  thresholds: { high: 90, low: 80, break: 74 },
};
