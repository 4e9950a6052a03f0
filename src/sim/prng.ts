/**
 * A small seedable PRNG (mulberry32): fast, 32-bit state, good enough for fault injection
 * and generated fixtures. Not for anything cryptographic.
 */
export type Random = () => number;

/** Returns a function yielding floats in [0, 1), fully determined by `seed`. */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
