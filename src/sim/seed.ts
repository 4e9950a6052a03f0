/**
 * Seeding the simulator library: from a JSON fixtures file, from generated images, or both.
 *
 * Seed file format (fixtures/library.json is the reference):
 * ```json
 * {
 *   "description": "optional free text",
 *   "owners": {
 *     "alice": { "keys": ["sk_test_alice"], "bucket_id": "optional", "subscription_tier": 1 },
 *     "bob":   { "keys": ["sk_test_bob"] }
 *   },
 *   "images": [ { "object_id": "img-0001", "owner": "alice", "tags": ["product", "hero"] } ]
 * }
 * ```
 * Images are listed by `GET /get/` in file order. Unknown keys, duplicate ids or keys, and images of
 * an undeclared owner are errors, all reported at once with their JSON path.
 * A `.ndjson`/`.jsonl` seed holds one image per line instead (see `parseNdjsonSeed`).
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { Library } from './library.js';
import { createRandom } from './prng.js';

const OwnerSchema = z.strictObject({
  keys: z.array(z.string().min(1, 'a key must not be empty')).default([]),
  bucket_id: z.string().min(1).optional(),
  subscription_tier: z.number().int().min(0).max(2).optional(),
});

const ImageSchema = z.strictObject({
  object_id: z.string().min(1, 'object_id must not be empty'),
  owner: z.string().min(1),
  tags: z.array(z.string()).default([]),
});

const SeedSchema = z.strictObject({
  description: z.string().optional(),
  owners: z.record(z.string().min(1), OwnerSchema),
  images: z.array(ImageSchema).default([]),
});

export type SeedData = z.infer<typeof SeedSchema>;

/** A seed file or generation problem; `problems` lists every one found. */
export class SeedError extends Error {
  override name = 'SeedError';
  constructor(
    readonly problems: string[],
    options?: { cause?: unknown },
  ) {
    super(problems.join('\n'), options);
  }
}

function jsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : /^[A-Za-z_$][\w$]*$/.test(String(part)) ? `.${String(part)}` : `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

/** Validate parsed seed JSON; `label` prefixes every problem (usually the file name). */
export function parseSeed(raw: unknown, label = 'seed'): SeedData {
  const result = SeedSchema.safeParse(raw);
  if (!result.success) {
    throw new SeedError(result.error.issues.map((i) => `${label}: ${jsonPath(i.path)}: ${i.message}`));
  }
  const data = result.data;
  const problems: string[] = [];
  const keyOwners = new Map<string, string>();
  for (const [name, owner] of Object.entries(data.owners)) {
    owner.keys.forEach((key, i) => {
      const other = keyOwners.get(key);
      if (other !== undefined) problems.push(`${label}: ${jsonPath(['owners', name, 'keys', i])}: key already belongs to owner "${other}"`);
      else keyOwners.set(key, name);
    });
  }
  const seen = new Set<string>();
  data.images.forEach((image, i) => {
    if (!Object.hasOwn(data.owners, image.owner)) {
      problems.push(`${label}: ${jsonPath(['images', i, 'owner'])}: unknown owner "${image.owner}" (declare it under "owners")`);
    }
    if (seen.has(image.object_id)) problems.push(`${label}: ${jsonPath(['images', i, 'object_id'])}: duplicate id "${image.object_id}"`);
    seen.add(image.object_id);
  });
  if (problems.length > 0) throw new SeedError(problems);
  return data;
}

/**
 * An NDJSON seed (e.g. the output of `retag export`, to rehearse a migration on a copy of a real
 * library): one image per line, `{"id" | "object_id", "tags", "owner"?}`; the owner defaults to
 * alice (key `sk_test_alice`). Blank lines are ignored; every bad line is reported.
 */
export function parseNdjsonSeed(text: string, label = 'seed'): SeedData {
  const problems: string[] = [];
  const images: SeedData['images'] = [];
  const owners: SeedData['owners'] = { [GENERATED_OWNER]: { keys: [DEFAULT_KEY] } };
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${label}:${i + 1}`;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (err) {
      problems.push(`${where}: not valid JSON: ${(err as Error).message}`);
      return;
    }
    const r = (typeof rec === 'object' && rec !== null && !Array.isArray(rec) ? rec : {}) as Record<string, unknown>;
    const id = r['object_id'] ?? r['id'];
    const owner = r['owner'] ?? GENERATED_OWNER;
    const tags = r['tags'] ?? [];
    if (typeof id !== 'string' || id === '') problems.push(`${where}: expected a non-empty "id" or "object_id"`);
    else if (seen.has(id)) problems.push(`${where}: duplicate id "${id}"`);
    if (typeof owner !== 'string' || owner === '') problems.push(`${where}: "owner" must be a non-empty string`);
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) problems.push(`${where}: "tags" must be an array of strings`);
    if (typeof id === 'string' && id !== '' && !seen.has(id) && typeof owner === 'string' && owner !== '' && Array.isArray(tags)) {
      seen.add(id);
      owners[owner] ??= { keys: [] };
      images.push({ object_id: id, owner, tags: tags as string[] });
    }
  });
  if (problems.length > 0) throw new SeedError(problems);
  return { owners, images };
}

/** Read and validate a seed file: JSON (the fixtures format) or, by extension, NDJSON. */
export function readSeedFile(file: string): SeedData {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SeedError([`${file}: cannot read the seed file: ${(err as Error).message}`], { cause: err });
  }
  if (/\.(ndjson|jsonl)$/i.test(file)) return parseNdjsonSeed(text, file);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SeedError([`${file}: not valid JSON: ${(err as Error).message}`], { cause: err });
  }
  return parseSeed(raw, file);
}

/** Small vocabulary for generated images: realistic, a few with spaces. */
export const GENERATED_VOCABULARY: readonly string[] = [
  'product', 'hero', 'banner', 'thumbnail', 'summer-2024', 'winter-2024', 'archive', 'draft',
  'featured', 'legacy', 'sale', 'new arrival', 'lifestyle', 'studio', 'outdoor', 'catalog',
];

/** Owner of generated images. */
export const GENERATED_OWNER = 'alice';
/** Key added when the simulator has no key at all. */
export const DEFAULT_KEY = 'sk_test_alice';

/** Id of the n-th (1-based) generated image, zero-padded to `width` digits (at least 6). */
export function generatedId(n: number, width = 6): string {
  return `img-${String(n).padStart(width, '0')}`;
}

/**
 * Append `count` images owned by alice with 0–4 tags each, drawn from the vocabulary by a PRNG
 * seeded with `seed`: the same (count, seed) always yields the same library.
 */
export function generateImages(library: Library, count: number, seed: number): void {
  if (count <= 0) return;
  library.addOwner(GENERATED_OWNER);
  const random = createRandom(seed ^ 0x9e3779b9);
  const width = Math.max(6, String(count).length);
  const vocab = GENERATED_VOCABULARY;
  for (let n = 1; n <= count; n++) {
    const id = generatedId(n, width);
    if (library.has(id)) throw new SeedError([`generate: id ${id} already exists in the seed library`]);
    const howMany = Math.floor(random() * 5);
    const tags: string[] = [];
    for (let k = 0; k < howMany; k++) {
      const tag = vocab[Math.floor(random() * vocab.length)]!;
      if (!tags.includes(tag)) tags.push(tag);
    }
    library.addUnchecked(id, GENERATED_OWNER, tags);
  }
}

export interface BuildLibraryOptions {
  seed?: SeedData;
  generate?: number;
  keys?: Record<string, string>;
  prngSeed?: number;
}

/**
 * Build the library: seed owners, keys and images in file order, then generated images, then the
 * extra keys. `sk_test_alice` → alice is added when there is no key at all, or when there are
 * generated images (alice's) and no key of alice's, so the simulator is always usable.
 */
export function buildLibrary(opts: BuildLibraryOptions): Library {
  const library = new Library();
  if (opts.seed) {
    for (const [name, owner] of Object.entries(opts.seed.owners)) {
      const fields: { bucket_id?: string; subscription_tier?: number } = {};
      if (owner.bucket_id !== undefined) fields.bucket_id = owner.bucket_id;
      if (owner.subscription_tier !== undefined) fields.subscription_tier = owner.subscription_tier;
      library.addOwner(name, fields);
      for (const key of owner.keys) library.addKey(key, name);
    }
    for (const image of opts.seed.images) library.addUnchecked(image.object_id, image.owner, [...image.tags]);
  }
  generateImages(library, opts.generate ?? 0, opts.prngSeed ?? 0);
  for (const [key, owner] of Object.entries(opts.keys ?? {})) library.addKey(key, owner);
  // Keep the simulator usable: with no key at all, or generated images nobody could read.
  const keyed = Object.values(library.keys());
  const generatedUnreachable = (opts.generate ?? 0) > 0 && !keyed.includes(GENERATED_OWNER);
  if ((keyed.length === 0 || generatedUnreachable) && library.ownerOfKey(DEFAULT_KEY) === undefined) {
    library.addKey(DEFAULT_KEY, GENERATED_OWNER);
  }
  return library;
}

/**
 * The seed library shipped with the package (fixtures/library.json), found by walking up from this
 * module: works from src/ (tsx, jest) and from dist/src/ (the built CLI).
 */
export function bundledSeedFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'fixtures', 'library.json');
    if (existsSync(candidate)) return candidate;
    const parent = resolve(dir, '..');
    if (parent === dir) break;
    dir = parent;
  }
  throw new SeedError(['cannot find the bundled fixtures/library.json; pass a seed file or a number of images to generate']);
}
