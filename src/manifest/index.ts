/** Manifest readers (CSV, JSON, NDJSON) and rule validation: design.md §2. */
export {
  detectFormat,
  resolveManifestOptions,
  DEFAULT_MAX_TAG_LENGTH,
  DEFAULT_TAG_SEPARATOR,
  MANIFEST_FORMATS,
  type ManifestFormat,
  type ManifestOptions,
  type ResolvedManifestOptions,
} from './options.js';
export {
  readRules,
  loadManifest,
  validateManifest,
  EMPTY_MANIFEST,
  MAX_REPORTED_PROBLEMS,
  type LoadedManifest,
  type ValidationReport,
} from './read.js';
export { formatProblem, assertNoProblems, MAX_MESSAGE_PROBLEMS } from './problems.js';
export {
  validateRuleObject,
  checkRuleObject,
  idProblem,
  idValueProblem,
  tagProblem,
  subLocation,
  suggestKey,
  MAX_ID_LENGTH,
} from './validate-rule.js';
export type { ManifestItem } from './source.js';
