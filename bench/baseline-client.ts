/**
 * The alternatives retag is measured against, each doing the same `POST /update/<id>` requests
 * (ids img-000001…, tags set) against the simulator:
 *
 * - `bare`: a bare node:http keep-alive client, `concurrency` requests in flight, nothing else:
 *   the floor for CPU per update and the ceiling for throughput.
 * - `sequential`: the reimage docs' example in a loop, one `fetch` after another.
 * - `promise-all`: every `fetch` at once under `Promise.all`, no throttle and no retry.
 * - `noop`: start and exit (the fixed cost of a node process).
 *
 * Usage: node dist/bench/baseline-client.js <mode> <url> <n> [concurrency]; prints one JSON line.
 */
import http from 'node:http';

const [mode, url, nText, concText] = process.argv.slice(2);
const n = Number(nText ?? 0);
const concurrency = Number(concText ?? 1);
const key = process.env.REIMAGE_API_KEY ?? 'sk_test_alice';
const width = Math.max(6, String(n).length);
const idOf = (i: number) => `img-${String(i).padStart(width, '0')}`;
const bodyOf = (i: number) => JSON.stringify({ tags: ['bench', `t-${i % 7}`] });

const byStatus: Record<string, number> = {};
let failures = 0;
const count = (status: number | string) => {
  byStatus[status] = (byStatus[status] ?? 0) + 1;
  if (typeof status !== 'number' || status < 200 || status >= 300) failures++;
};

async function bare(): Promise<void> {
  const base = new URL(url!);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const body = bodyOf(i);
      const req = http.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method: 'POST',
          path: `/update/${idOf(i)}`,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            count(res.statusCode ?? 0);
            resolve();
          });
        },
      );
      req.on('error', () => {
        count('error');
        resolve();
      });
      req.end(body);
    });
  let next = 1;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next <= n) await one(next++);
    }),
  );
  agent.destroy();
}

/** What the docs show, once per image. */
async function update(i: number): Promise<void> {
  try {
    const res = await fetch(`${url}/update/${idOf(i)}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: bodyOf(i),
    });
    await res.arrayBuffer();
    count(res.status);
  } catch {
    count('error');
  }
}

async function sequential(): Promise<void> {
  for (let i = 1; i <= n; i++) await update(i);
}

async function promiseAll(): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, k) => update(k + 1)));
}

const started = performance.now();
if (mode === 'bare') await bare();
else if (mode === 'sequential') await sequential();
else if (mode === 'promise-all') await promiseAll();
else if (mode !== 'noop') {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify({ n, ms: performance.now() - started, byStatus, failures })}\n`);
