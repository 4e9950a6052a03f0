/** The reimage-compatible simulator (design.md §8): start it in-process with `startSimulator`. */
export { startSimulator } from './server.js';
export type { ListShape, SimImage, SimLibrary, SimOptions, SimOwner, SimStats, Simulator } from './types.js';
export { LIST_SHAPES } from './types.js';
export { SIM_DEFAULTS, isLoopbackHost } from './options.js';
export { bundledSeedFile, DEFAULT_KEY, GENERATED_VOCABULARY, generatedId } from './seed.js';
