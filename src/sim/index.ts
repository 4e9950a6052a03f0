/** The reimage-compatible simulator (design.md §8): start it in-process with `startSimulator`. */
export { startSimulator } from './server.js';
export type { ListOrder, ListShape, PastEnd, SimImage, SimLibrary, SimOptions, SimOwner, SimStats, Simulator } from './types.js';
export { LIST_ORDERS, LIST_SHAPES, PAST_END_MODES } from './types.js';
export { SIM_DEFAULTS, isLoopbackHost } from './options.js';
export { bundledSeedFile, DEFAULT_KEY, GENERATED_VOCABULARY, generatedId } from './seed.js';
