/**
 * `retag sim`: run the reimage-compatible simulator in the foreground until SIGINT/SIGTERM
 * (or `io.signal` aborts), then close it and resolve 0.
 */
import { bundledSeedFile, startSimulator, type SimOptions } from '../sim/index.js';

export interface SimCommandOptions extends SimOptions {}

export interface SimCommandIo {
  stdout: NodeJS.WritableStream;
  signal?: AbortSignal;
}

export async function simCommand(opts: SimCommandOptions, io: SimCommandIo): Promise<number> {
  // With neither a seed file nor generated images, serve the bundled fixtures library.
  const options: SimOptions = { ...opts };
  if (options.seedFile === undefined && !options.generate) options.seedFile = bundledSeedFile();

  const sim = await startSimulator(options);
  try {
    const keys = Object.entries(sim.library.keys())
      .map(([key, owner]) => `${key} → ${owner}`)
      .join(', ');
    io.stdout.write(`reimage simulator listening on ${sim.url} (${sim.library.size} images; keys: ${keys})\n`);
    await untilStopped(io.signal);
  } finally {
    await sim.close();
  }
  return 0;
}

/** Resolves on SIGINT, SIGTERM or the abort of `signal`, removing its listeners. */
function untilStopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    signal?.addEventListener('abort', stop, { once: true });
  });
}
