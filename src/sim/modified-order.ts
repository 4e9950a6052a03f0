/**
 * One owner's images ordered by last modification, ascending, as a real "ORDER BY updated_at"
 * listing would be (design.md §3 "A listing that moves", §8).
 *
 * Every image holds a slot in an append-only array: a modification frees its slot and takes the
 * next one at the end, so slot order is modification order (the slot number is the image's
 * modification counter, renumbered densely when the array is compacted). A Fenwick tree over the
 * slots counts the occupied ones, so the k-th image in order is found without walking the holes.
 *
 * Complexity, n images, C ≥ n slots (C ≤ 2·max(n, 16) after a compaction):
 * - `touch` (a modification), `append`, `remove`: O(log C), plus an amortised O(1) for compaction;
 * - `at(k)`: O(log C), so a page of P records costs O(P log C), independent of the page number;
 * - `forEach` (whole listing in order): O(C).
 * Memory: one slot number per image (kept by the caller) plus an id array and an Int32Array of C.
 */

/** Where an image's slot is kept: the library's own entry, so no extra id → slot map is needed. */
export interface Slotted {
  slot: number;
}

const MIN_CAPACITY = 16;

export class ModifiedOrder {
  /** slot → id; undefined where an image left (modified again, or removed). */
  private slots: (string | undefined)[] = [];
  private owners: (Slotted | undefined)[] = [];
  /** Fenwick tree, 1-based: tree[i] counts occupied slots in (i - lowbit(i), i]. */
  private tree = new Int32Array(MIN_CAPACITY + 1);
  private capacity = MIN_CAPACITY;
  /** Next free slot (everything from here on is empty). */
  private next = 0;
  private live = 0;
  /** Highest power of two ≤ capacity, for the Fenwick descent. */
  private topBit = highBit(MIN_CAPACITY);

  /** Build from images already in ascending modification order (O(n)). */
  static from(ids: readonly string[], entryOf: (id: string) => Slotted): ModifiedOrder {
    const order = new ModifiedOrder();
    const n = ids.length;
    order.slots = ids.slice();
    order.owners = new Array<Slotted | undefined>(n);
    for (let s = 0; s < n; s++) {
      const entry = entryOf(ids[s]!);
      entry.slot = s;
      order.owners[s] = entry;
    }
    order.next = n;
    order.live = n;
    order.rebuild(Math.max(MIN_CAPACITY, n * 2));
    return order;
  }

  get size(): number {
    return this.live;
  }

  /** Add an image as the most recently modified. */
  append(id: string, entry: Slotted): void {
    if (this.next >= this.capacity) this.rebuild(Math.max(MIN_CAPACITY, (this.live + 1) * 2));
    const slot = this.next++;
    this.slots[slot] = id;
    this.owners[slot] = entry;
    entry.slot = slot;
    this.live++;
    this.add(slot, 1);
  }

  /** Take the image out of the order (deleted, or about to be re-appended). */
  remove(entry: Slotted): void {
    const slot = entry.slot;
    if (slot < 0 || slot >= this.next || this.owners[slot] !== entry) return;
    this.slots[slot] = undefined;
    this.owners[slot] = undefined;
    entry.slot = -1;
    this.live--;
    this.add(slot, -1);
  }

  /** The image was modified: it becomes the last in ascending order. */
  touch(id: string, entry: Slotted): void {
    this.remove(entry);
    this.append(id, entry);
  }

  /** The id at 0-based position `k` in ascending order (0 ≤ k < size). */
  at(k: number): string {
    if (!(k >= 0 && k < this.live)) throw new RangeError(`position ${k} outside 0..${this.live - 1}`);
    // Fenwick descent: the largest prefix holding ≤ k occupied slots; the next slot is the k-th.
    let pos = 0;
    let rem = k + 1;
    for (let step = this.topBit; step > 0; step >>= 1) {
      const probe = pos + step;
      if (probe <= this.capacity && this.tree[probe]! < rem) {
        pos = probe;
        rem -= this.tree[probe]!;
      }
    }
    return this.slots[pos]!;
  }

  /** Every id in ascending (or, with `descending`, reverse) order. */
  forEach(fn: (id: string) => void, descending = false): void {
    if (descending) {
      for (let s = this.next - 1; s >= 0; s--) {
        const id = this.slots[s];
        if (id !== undefined) fn(id);
      }
    } else {
      for (let s = 0; s < this.next; s++) {
        const id = this.slots[s];
        if (id !== undefined) fn(id);
      }
    }
  }

  private add(slot: number, delta: number): void {
    for (let i = slot + 1; i <= this.capacity; i += i & -i) this.tree[i]! += delta;
  }

  /** Compact the occupied slots to 0..live-1 (order kept) and rebuild the tree for `capacity` slots. */
  private rebuild(capacity: number): void {
    if (this.live < this.next) {
      const slots: (string | undefined)[] = [];
      const owners: (Slotted | undefined)[] = [];
      for (let s = 0; s < this.next; s++) {
        const entry = this.owners[s];
        if (entry === undefined) continue;
        entry.slot = slots.length;
        slots.push(this.slots[s]);
        owners.push(entry);
      }
      this.slots = slots;
      this.owners = owners;
      this.next = slots.length;
    }
    this.capacity = capacity;
    this.topBit = highBit(capacity);
    const tree = new Int32Array(capacity + 1);
    for (let i = 1; i <= this.next; i++) tree[i] = 1;
    for (let i = 1; i <= capacity; i++) {
      const parent = i + (i & -i);
      if (parent <= capacity) tree[parent]! += tree[i]!;
    }
    this.tree = tree;
  }
}

function highBit(n: number): number {
  let b = 1;
  while (b * 2 <= n) b *= 2;
  return b;
}
