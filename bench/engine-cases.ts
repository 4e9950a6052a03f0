/**
 * Bench cases of the one engine (issues "one engine", "library-wide rules"): what the write-ahead
 * journal costs, and what deciding library-wide rules costs next to id rules of the same size.
 * Each figure is a ratio against its baseline, both measured in this run. Also: the
 * read-to-write window of a read-merge-write run (issue 10), measured by bench/plain-server.ts.
 */
import { join } from 'node:path';
import { API_KEY, CLI, imageId, measureNode, runRetag, serverRate, startPlainServerProcess, startSimProcess, writeLines, type SimProcess } from './harness.js';
import { GENERATED_VOCABULARY } from '../src/sim/seed.js';

export interface EngineCaseContext {
  quick: boolean;
  tmp: string;
  outDir(name: string): string;
  log(message: string): void;
}
export interface EngineRow {
  case: string;
  setup: string;
  figure: string;
  retag: string;
  baseline: string;
  ratio: string;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : 'n/a');
const perSec = (x: number) => `${x >= 100 ? x.toFixed(0) : x.toFixed(1)}/s`;

async function withSim<T>(args: Parameters<typeof startSimProcess>[0], fn: (sim: SimProcess) => Promise<T>): Promise<T> {
  const sim = await startSimProcess(args);
  try {
    return await fn(sim);
  } finally {
    await sim.close();
  }
}

/** `retag <args>` against the simulator, with extra environment; wall, CPU and summary. */
async function retag(sim: SimProcess, args: string[], out: string, env: Record<string, string> = {}) {
  const m = await measureNode([CLI, ...args, '--out', out, '--log-level', 'warn'], { REIMAGE_API_KEY: API_KEY, REIMAGE_BASE_URL: sim.url, ...env });
  if (m.code !== 0) throw new Error(`retag ${args.join(' ')} exited ${m.code}:\n${m.stderr.slice(-1500)}`);
  return m;
}

/**
 * The write-ahead journal's cost: 32 in flight at 20 ms latency, --no-read set rules, the same
 * run with and without the journal (RETAG_BENCH_NO_JOURNAL=1, a bench-only switch), alternating,
 * best of two rounds each. Throughput and client CPU per update.
 */
export const journalCostCase = {
  name: 'journal-cost',
  async run(ctx: EngineCaseContext): Promise<EngineRow[]> {
    const n = ctx.quick ? 800 : 4800;
    const concurrency = 32;
    const file = join(ctx.tmp, 'journal-cost.ndjson');
    await writeLines(file, n, (i) => `{"id":"${imageId(i, n)}","set":["j-${i % 5}","k"]}`);
    return withSim({ generate: n, latencyMs: 20 }, async (sim) => {
      const best = { with: { rate: 0, cpu: Infinity }, without: { rate: 0, cpu: Infinity } };
      for (let round = 0; round < (ctx.quick ? 1 : 2); round++) {
        for (const mode of ['with', 'without'] as const) {
          const m = await retag(sim, ['run', file, '--no-read', '--rate', '100000', '--concurrency', String(concurrency)], ctx.outDir(`journal-${mode}-${round}`), mode === 'without' ? { RETAG_BENCH_NO_JOURNAL: '1' } : {});
          best[mode].rate = Math.max(best[mode].rate, n / (m.wallMs / 1000));
          best[mode].cpu = Math.min(best[mode].cpu, (m.cpuMs ?? NaN) / n);
        }
      }
      return [
        {
          case: 'journal-cost',
          setup: `${n} set updates, 20 ms latency, -c ${concurrency}, --no-read; best of ${ctx.quick ? 1 : 2} round${ctx.quick ? '' : 's'} each, alternating`,
          figure: 'items/s · CPU per update (whole process)',
          retag: `${perSec(best.with.rate)} · ${(best.with.cpu * 1000).toFixed(0)} µs with the write-ahead journal`,
          baseline: `${perSec(best.without.rate)} · ${(best.without.cpu * 1000).toFixed(0)} µs without it`,
          ratio: `${pct(best.with.rate / best.without.rate)} of the throughput, ${(best.with.cpu / best.without.cpu).toFixed(2)}× the CPU`,
        },
      ];
    });
  },
};

/**
 * Deciding library-wide rules: a 5,000-row rename map (`from,to`) over a library, planned (no
 * writes), next to a plan of id rules of the same size. CPU per image decided, and wall time;
 * the scan is the same in both, so the difference is the deciding.
 */
export const renameMapCase = {
  name: 'rename-map',
  async run(ctx: EngineCaseContext): Promise<EngineRow[]> {
    const n = ctx.quick ? 10_000 : 100_000;
    const rows = 5000;
    const map = join(ctx.tmp, 'rename-map.csv');
    // Every tag of the generated vocabulary is renamed, plus rows for tags nobody has (a taxonomy
    // export is mostly that); 5,000 rows in all.
    const vocabulary = [...GENERATED_VOCABULARY];
    await writeLines(map, rows + 1, (i) => {
      if (i === 1) return 'from,to';
      const k = i - 2;
      return k < vocabulary.length ? `${vocabulary[k]},${vocabulary[k]}-v2` : `absent-${k},absent-${k}-v2`;
    });
    const ids = join(ctx.tmp, 'rename-map-ids.ndjson');
    await writeLines(ids, n, (i) => `{"id":"${imageId(i, n)}","add":["x-${i % 3}"],"remove":["legacy"]}`);
    return withSim({ generate: n }, async (sim) => {
      const args = ['--rate', '100000', '--concurrency', '8', '--page-size', '1000'];
      const lib = await retag(sim, ['plan', map, ...args], ctx.outDir('rename-map-plan'));
      const plain = await retag(sim, ['plan', ids, ...args], ctx.outDir('rename-map-ids'));
      const perImage = (m: { cpuMs?: number }) => ((m.cpuMs ?? NaN) * 1000) / n;
      return [
        {
          case: 'rename-map',
          setup: `plan of a ${rows.toLocaleString('en')}-row rename map over a ${n.toLocaleString('en')}-image library (indexed selection), vs ${n.toLocaleString('en')} id rules`,
          figure: 'CPU per image decided · wall',
          retag: `${perImage(lib).toFixed(1)} µs · ${(lib.wallMs / 1000).toFixed(2)} s`,
          baseline: `${perImage(plain).toFixed(1)} µs · ${(plain.wallMs / 1000).toFixed(2)} s for the id rules`,
          ratio: `${(perImage(lib) / perImage(plain)).toFixed(2)}× the CPU of id rules`,
        },
      ];
    });
  },
};

/** Nearest-rank percentile of ascending `sorted` (the plain server's own definition). */
function rank(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

/**
 * The read-to-write window (issue 10): how long after the server answered the listing page that
 * held an image does that image's POST /update/ arrive, by the server's clock
 * (bench/plain-server.ts --window; the page's response `finish` → the POST's arrival). A
 * read-merge-write run (add/remove rules, default read mode) of the first N images of a
 * 3,000-image library, page size 100, at --rate 50 and --rate 500, -c 8, 5 ms latency, no server
 * limit (retag paces itself). The baseline is the ideal for the rate: a client that reads a page
 * just when the previous page's writes are done and then writes its m matched images at exactly
 * 1/rate apart, so the k-th waits k/rate (k = 1..m; 10 ms up to 2 s at 50/s for a full page);
 * its p50 and p99 are taken from that same distribution over the same images.
 */
export const readWriteWindowCase = {
  name: 'read-write-window',
  async run(ctx: EngineCaseContext): Promise<EngineRow[]> {
    const pageSize = 100;
    const library = ctx.quick ? 1000 : 3000;
    const rows: EngineRow[] = [];
    for (const rate of [50, 500]) {
      const n = ctx.quick ? rate * 2 : rate === 50 ? 400 : 2000;
      const file = join(ctx.tmp, `read-write-window-${rate}.ndjson`);
      await writeLines(file, n, (i) => `{"id":"${imageId(i, library)}","add":["w-${i % 3}"],"remove":["g-${i % 5}"]}`);
      // The ideal: on each page, the k-th image wanted waits k / rate after the page.
      const ideal: number[] = [];
      for (let first = 1; first <= n; first += pageSize) {
        const m = Math.min(pageSize, n - first + 1);
        for (let k = 1; k <= m; k++) ideal.push((k * 1000) / rate);
      }
      ideal.sort((a, b) => a - b);
      const idealP50 = rank(ideal, 0.5);
      const idealP99 = rank(ideal, 0.99);
      const row = await withPlain({ generate: library, latencyMs: 5, window: true }, async (server) => {
        const run = await runRetag(server.url, ['run', file, '--rate', String(rate), '--concurrency', '8', '--page-size', String(pageSize)], ctx.outDir(`read-write-window-${rate}`));
        const stats = await server.stats();
        const w = stats.window;
        if (!w || w.count === 0 || w.p50 === null || w.p99 === null) throw new Error(`the plain server measured no window (${JSON.stringify(w)})`);
        const achieved = serverRate(stats, stats.updatesApplied);
        const gets = stats.byEndpoint['GET /get/'] ?? 0;
        const problems = [
          run.summary.counts.failed ? `${run.summary.counts.failed} failed` : '',
          w.count !== n ? `${w.count} of ${n} measured` : '',
          w.unlisted ? `${w.unlisted} never listed` : '',
        ].filter(Boolean);
        return {
          case: `read-write-window-${rate}`,
          setup:
            `plain server, ${library.toLocaleString('en')}-image library, page size ${pageSize}, 5 ms, no limit; ` +
            `${n} add/remove rules (first ${n} images, ${Math.ceil(n / pageSize)} pages), read-merge-write, --rate ${rate} -c 8; ` +
            `ideal: the k-th image of a page written k/rate after it`,
          figure: 'p50 · p99 ms (page read → write)',
          retag: `${w.p50.toFixed(0)} · ${w.p99.toFixed(0)} ms (max ${(w.max ?? NaN).toFixed(0)}; ${w.count} writes at ${perSec(achieved)}, ${gets} GET /get/${problems.length ? `; ${problems.join(', ')}` : ''})`,
          baseline: `ideal ${idealP50.toFixed(0)} · ${idealP99.toFixed(0)} ms (1/rate = ${(1000 / rate).toFixed(0)} ms, page/rate = ${((pageSize * 1000) / rate).toFixed(0)} ms)`,
          ratio: `${(w.p50 / idealP50).toFixed(2)}× · ${(w.p99 / idealP99).toFixed(2)}× the ideal`,
        };
      });
      rows.push(row);
    }
    return rows;
  },
};

async function withPlain<T>(args: Parameters<typeof startPlainServerProcess>[0], fn: (server: SimProcess) => Promise<T>): Promise<T> {
  const server = await startPlainServerProcess(args);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}
