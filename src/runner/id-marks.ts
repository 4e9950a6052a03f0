/**
 * A set of image ids that costs a byte per id the source names (issue 10: memory that follows the
 * work). Ids the source knows are marked in a bitmap over the source's own index, so a scan of a
 * million-image library for a million id rules keeps no second copy of the ids and no hash table
 * of them; ids it does not know (a library-wide run, an image no id rule names) go in a Set.
 */
export interface IdIndex {
  /** How many ids the index numbers (0 … idCount − 1). */
  readonly idCount: number;
  /** The id's number, or undefined when the index does not know it. */
  indexOf?(id: string): number | undefined;
}

export class IdMarks {
  readonly #indexOf: ((id: string) => number | undefined) | undefined;
  readonly #bits: Uint8Array;
  readonly #others = new Set<string>();
  #size = 0;

  constructor(index?: IdIndex) {
    this.#indexOf = index?.indexOf?.bind(index);
    this.#bits = new Uint8Array(this.#indexOf ? index!.idCount : 0);
  }

  get size(): number {
    return this.#size;
  }

  has(id: string): boolean {
    const k = this.#indexOf?.(id);
    return k === undefined ? this.#others.has(id) : this.#bits[k] === 1;
  }

  /** Marks the id; true when it was not marked yet. */
  add(id: string): boolean {
    const k = this.#indexOf?.(id);
    if (k === undefined) {
      if (this.#others.has(id)) return false;
      this.#others.add(id);
    } else {
      if (this.#bits[k] === 1) return false;
      this.#bits[k] = 1;
    }
    this.#size++;
    return true;
  }
}
