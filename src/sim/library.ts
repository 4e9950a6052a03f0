/**
 * The simulator's image library: O(1) lookup by id, and per owner an array of ids in listing
 * order so a page is a slice. Tag arrays are owned by the library and never handed out
 * (callers get copies), so a page can serialise them without copying.
 */
import type { SimImage, SimLibrary, SimOwner } from './types.js';

interface Entry {
  owner: string;
  tags: string[];
}

interface OwnerState {
  record: SimOwner;
  ids: string[];
}

/** A stable, fake 12-hex-digit bucket id derived from the owner name (FNV-1a). */
export function bucketIdFor(name: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x811c9dc5) >>> 0;
  }
  return (h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')).slice(0, 12);
}

function checkTags(tags: readonly string[]): string[] {
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) {
    throw new TypeError('tags must be an array of strings');
  }
  return [...tags];
}

export class Library implements SimLibrary {
  private readonly images = new Map<string, Entry>();
  private readonly owners = new Map<string, OwnerState>();
  private readonly keyOwner = new Map<string, string>();

  get size(): number {
    return this.images.size;
  }

  /** Create the owner if needed; fields given override the existing record's. */
  addOwner(name: string, fields: Partial<Omit<SimOwner, 'name'>> = {}): SimOwner {
    let state = this.owners.get(name);
    if (!state) {
      state = {
        record: { name, bucket_id: bucketIdFor(name), subscription_tier: 1 },
        ids: [],
      };
      this.owners.set(name, state);
    }
    if (fields.bucket_id !== undefined) state.record.bucket_id = fields.bucket_id;
    if (fields.subscription_tier !== undefined) state.record.subscription_tier = fields.subscription_tier;
    return state.record;
  }

  /** Map an API key to an owner (created if unknown). A key maps to one owner; the last call wins. */
  addKey(key: string, owner: string): void {
    this.addOwner(owner);
    this.keyOwner.set(key, owner);
  }

  ownerOfKey(key: string): string | undefined {
    return this.keyOwner.get(key);
  }

  owner(name: string): SimOwner | undefined {
    const record = this.owners.get(name)?.record;
    return record ? { ...record } : undefined;
  }

  keys(): Record<string, string> {
    return Object.fromEntries(this.keyOwner);
  }

  get(id: string): SimImage | undefined {
    const entry = this.images.get(id);
    return entry ? { id, owner: entry.owner, tags: [...entry.tags] } : undefined;
  }

  /** The stored entry itself, for the HTTP handlers (do not mutate). */
  entry(id: string): Readonly<Entry> | undefined {
    return this.images.get(id);
  }

  setTags(id: string, tags: readonly string[]): void {
    const entry = this.images.get(id);
    if (!entry) throw new Error(`no image ${JSON.stringify(id)} in the simulator library`);
    entry.tags = checkTags(tags);
  }

  /** Replace tags with an array the caller hands over (already validated, not copied). */
  replaceTags(id: string, tags: string[]): void {
    const entry = this.images.get(id);
    if (entry) entry.tags = tags;
  }

  add(image: SimImage): void {
    if (typeof image.id !== 'string' || image.id === '') throw new TypeError('image id must be a non-empty string');
    if (this.images.has(image.id)) throw new Error(`duplicate image id ${JSON.stringify(image.id)}`);
    const state = this.owners.get(image.owner);
    if (!state) throw new Error(`unknown owner ${JSON.stringify(image.owner)}`);
    this.images.set(image.id, { owner: image.owner, tags: checkTags(image.tags) });
    state.ids.push(image.id);
  }

  /** Fast path for seeding: no checks, takes ownership of `tags`. */
  addUnchecked(id: string, owner: string, tags: string[]): void {
    this.images.set(id, { owner, tags });
    this.owners.get(owner)!.ids.push(id);
  }

  remove(id: string): boolean {
    const entry = this.images.get(id);
    if (!entry) return false;
    this.images.delete(id);
    const ids = this.owners.get(entry.owner)!.ids;
    const at = ids.indexOf(id);
    if (at >= 0) ids.splice(at, 1);
    return true;
  }

  has(id: string): boolean {
    return this.images.has(id);
  }

  ids(owner: string): string[] {
    return [...(this.owners.get(owner)?.ids ?? [])];
  }

  /** Number of images an owner has. */
  countOf(owner: string): number {
    return this.owners.get(owner)?.ids.length ?? 0;
  }

  /** The owner's ids in listing order (the live array: do not mutate). */
  listing(owner: string): readonly string[] {
    return this.owners.get(owner)?.ids ?? [];
  }

  dump(): Record<string, { owner: string; tags: string[] }> {
    // Null prototype: an id such as "__proto__" must stay an ordinary key.
    const out: Record<string, { owner: string; tags: string[] }> = Object.create(null);
    for (const [id, entry] of this.images) out[id] = { owner: entry.owner, tags: [...entry.tags] };
    return out;
  }
}
