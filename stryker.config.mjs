// @ts-check
/**
 * Mutation testing (`npm run mutate`; not part of `npm test`): StrykerJS over the pure and
 * safety-critical modules, tested by the fast unit tests of jest.mutate.config.js.
 *
 * Jest runs in ESM mode, so the test-runner processes get --experimental-vm-modules.
 * Incremental: `npx stryker run stryker.config.mjs --incremental` reuses the last run of this group
 * (reports/stryker-incremental-plan.json); the same for stryker.safety.config.mjs.
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
  // Two groups, each with its own break threshold (issue 12): this file is the first, plan/ and the
  // retry policy (85 %); stryker.safety.config.mjs is the second (75 %). `npm run mutate` runs both.
  mutate: [
    'src/plan/compose.ts',
    'src/plan/rule-set.ts',
    'src/plan/resolve.ts',
    'src/plan/normalize.ts',
    'src/plan/summary.ts',
    'src/plan/inventory.ts',
    'src/runner/retry-policy.ts',
    'src/runner/retry-after.ts',
  ],
  concurrency: 2,
  timeoutMS: 20000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/plan.html' },
  jsonReporter: { fileName: 'reports/mutation/plan.json' },
  incrementalFile: 'reports/stryker-incremental-plan.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  // The floor for this group. Survivors are killed by a test, or, when no behaviour can tell
  // them apart, disabled where they live with their reason (`grep -rn "Stryker disable" src`):
  // - rule-set.ts: the index of library-wide rules by tag and the candidate bookkeeping (only which
  //   rules are tested, never the result), the fast paths, string/operation interning (memory),
  //   segment representations that compose to the same operation, empty add/remove steps;
  // - compose.ts: empty lists and maps (no tag added, removed or renamed), put()'s writable and
  //   configurable flags (keys are put once), opToRules' `rename: undefined`;
  // - normalize.ts byTag: the tie-break comparator (distinct keys; V8 sorts read only `< 0`);
  //   inventory.ts: a spelling group of one.
  thresholds: { high: 90, low: 85, break: 85 },
};
