/**
 * The simulator's image library: O(1) lookup by id, and per owner an array of ids in insertion
 * order (the `id` listing order) so a page is a slice. Tag arrays are owned by the library and
 * never handed out (callers get copies), so a page can serialise them without copying.
 *
 * For the `modified-*` listing orders each owner also gets a `ModifiedOrder` (built on first use,
 * then kept up to date): every modification moves the image to its end in O(log n), and the
 * k-th image of the order is found in O(log n), so a page costs O(page size · log n).
 */
import { ModifiedOrder } from './modified-order.js';
import type { ListOrder, SimImage, SimLibrary, SimOwner } from './types.js';

interface Entry {
  owner: string;
  tags: string[];
  /** Modification counter: increases with every add and every modification, library-wide. */
  modified: number;
  /** Position in the owner's `ModifiedOrder` (maintained by it; -1 when it has none). */
  slot: number;
}

interface OwnerState {
  record: SimOwner;
  ids: string[];
  /** Built by the first `modified-*` listing, then maintained. */
  byModified?: ModifiedOrder;
}

/** Random access to one owner's listing in some order, valid until the library changes. */
export interface ListingView {
  readonly length: number;
  /** Id at 0-based position `i` (0 ≤ i < length). */
  at(i: number): string;
}

const EMPTY_VIEW: ListingView = { length: 0, at: () => { throw new RangeError('empty listing'); } };

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
  private clock = 0;
  /** The order `GET /get/` and `ids()` use; the simulator sets it from its options. */
  listOrder: ListOrder = 'id';

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
    this.touch(id, entry);
  }

  /** Replace tags with an array the caller hands over (already validated, not copied); a modification. */
  replaceTags(id: string, tags: string[]): void {
    const entry = this.images.get(id);
    if (!entry) return;
    entry.tags = tags;
    this.touch(id, entry);
  }

  /** Record a modification: a new counter value, and the end of the owner's modified order. */
  private touch(id: string, entry: Entry): void {
    entry.modified = ++this.clock;
    this.owners.get(entry.owner)!.byModified?.touch(id, entry);
  }

  add(image: SimImage): void {
    if (typeof image.id !== 'string' || image.id === '') throw new TypeError('image id must be a non-empty string');
    if (this.images.has(image.id)) throw new Error(`duplicate image id ${JSON.stringify(image.id)}`);
    const state = this.owners.get(image.owner);
    if (!state) throw new Error(`unknown owner ${JSON.stringify(image.owner)}`);
    this.insert(image.id, state, checkTags(image.tags));
  }

  /** Fast path for seeding: no checks, takes ownership of `tags`. */
  addUnchecked(id: string, owner: string, tags: string[]): void {
    this.insert(id, this.owners.get(owner)!, tags);
  }

  private insert(id: string, state: OwnerState, tags: string[]): void {
    const entry: Entry = { owner: state.record.name, tags, modified: ++this.clock, slot: -1 };
    this.images.set(id, entry);
    state.ids.push(id);
    state.byModified?.append(id, entry);
  }

  remove(id: string): boolean {
    const entry = this.images.get(id);
    if (!entry) return false;
    this.images.delete(id);
    const state = this.owners.get(entry.owner)!;
    const at = state.ids.indexOf(id);
    if (at >= 0) state.ids.splice(at, 1);
    state.byModified?.remove(entry);
    return true;
  }

  has(id: string): boolean {
    return this.images.has(id);
  }

  ids(owner: string, order: ListOrder = this.listOrder): string[] {
    const state = this.owners.get(owner);
    if (!state) return [];
    if (order === 'id') return [...state.ids];
    const out: string[] = [];
    this.modifiedOrder(state).forEach((id) => out.push(id), order === 'modified-desc');
    return out;
  }

  /** Number of images an owner has. */
  countOf(owner: string): number {
    return this.owners.get(owner)?.ids.length ?? 0;
  }

  /**
   * The owner's listing in `order`, as a random-access view: O(1) per position for `id`,
   * O(log n) for the `modified-*` orders. Valid until the library next changes.
   */
  listing(owner: string, order: ListOrder = this.listOrder): ListingView {
    const state = this.owners.get(owner);
    if (!state) return EMPTY_VIEW;
    if (order === 'id') {
      const ids = state.ids;
      return { length: ids.length, at: (i) => ids[i]! };
    }
    const byModified = this.modifiedOrder(state);
    const n = byModified.size;
    return order === 'modified-asc'
      ? { length: n, at: (i) => byModified.at(i) }
      : { length: n, at: (i) => byModified.at(n - 1 - i) };
  }

  /** The owner's ids in `order`, whole (O(n)); for filters that must look at every image. */
  forEachListed(owner: string, order: ListOrder, fn: (id: string) => void): void {
    const state = this.owners.get(owner);
    if (!state) return;
    if (order === 'id') state.ids.forEach((id) => fn(id));
    else this.modifiedOrder(state).forEach(fn, order === 'modified-desc');
  }

  /** Build the modified order of every owner now (so the first listing request does not pay for it). */
  prepareModifiedOrders(): void {
    for (const state of this.owners.values()) this.modifiedOrder(state);
  }

  private modifiedOrder(state: OwnerState): ModifiedOrder {
    if (!state.byModified) {
      // Insertion order is modification order until something is modified (O(n)); after that,
      // a sort by the modification counter, O(n log n), once per owner.
      const entryOf = (id: string): Entry => this.images.get(id)!;
      let ids: readonly string[] = state.ids;
      let sorted = true;
      for (let i = 1; i < ids.length && sorted; i++) sorted = entryOf(ids[i - 1]!).modified < entryOf(ids[i]!).modified;
      if (!sorted) ids = [...ids].sort((a, b) => entryOf(a).modified - entryOf(b).modified);
      state.byModified = ModifiedOrder.from(ids, entryOf);
    }
    return state.byModified;
  }

  dump(): Record<string, { owner: string; tags: string[] }> {
    // Null prototype: an id such as "__proto__" must stay an ordinary key.
    const out: Record<string, { owner: string; tags: string[] }> = Object.create(null);
    for (const [id, entry] of this.images) out[id] = { owner: entry.owner, tags: [...entry.tags] };
    return out;
  }
}
