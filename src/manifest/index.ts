/** Manifest readers (CSV, JSON, NDJSON) and rule validation: design.md §2. */
export {
  detectFormat,
  delimiterForFile,
  manifestDisplayName,
  parseDelimiter,
  resolveManifestOptions,
  DEFAULT_ENCODING,
  DEFAULT_MAX_TAG_LENGTH,
  DEFAULT_TAG_SEPARATOR,
  MANIFEST_FORMATS,
  STDIN_NAME,
  STDIN_PATH,
  type ManifestFormat,
  type ManifestOptions,
  type ManifestStream,
  type ResolvedManifestOptions,
} from './options.js';
export { resolveEncoding, type TextCodec } from './decode.js';
export {
  readManifestItems,
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
  badCharacter,
  idProblem,
  idValueProblem,
  tagProblem,
  subLocation,
  suggestKey,
  MAX_ID_LENGTH,
} from './validate-rule.js';
export { detectDelimiter, EMPTY_TO } from './read-csv.js';
export { MAX_LINE_BYTES } from './read-ndjson.js';
export type { ManifestItem, RuleOrProblem } from './source.js';
export type { IdRule, ManifestProblem, ManifestWarning, Rule, RuleOps, SourceLocation, Where } from './types.js';
