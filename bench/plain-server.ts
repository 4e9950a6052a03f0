/**
 * A plain reimage-compatible server for the bench, written apart from src/sim (nothing of it is
 * imported) so retag is also measured against a server it was not written with:
 *
 * - `GET /get/?page=N&page_size=P` (pages from 1): a bare JSON array of `{object_id, tags}`, no
 *   paging metadata; `GET /user/`: `{name, bucket_id, image_count}`.
 * - `POST /update/<id>` `{"tags": [...]}`: replaces the tags, answers 200 with an empty body;
 *   404 for an unknown id, 400 for a body that is not `{"tags": string[]}`.
 * - Any `Authorization: Bearer <key>` is accepted; none → 401.
 * - Every answer after a fixed `--latency` ms (setTimeout), nothing else on the path.
 * - `--rate-limit R --burst B`: one token bucket (R tokens/s, B at most, starting full); an empty
 *   bucket → 429 `{"error": ...}` with `Retry-After: 1` and no RateLimit-* header at all: a
 *   limit nobody announces.
 * - `GET /_stats`, `POST /_reset`: the bench's view (same fields as the simulator's /_sim/stats).
 * - `--window` (opt-in; off, nothing of it runs): the read-to-write window, by the server's own
 *   clock. Each id is stamped with the moment the last `GET /get/` page listing it finished
 *   sending (the response's `finish`); each `POST /update/<id>` answered 200 takes the time from
 *   that stamp to the moment the request arrived. `/_stats` then has `window`: count, p50, p99,
 *   max, mean (ms, nearest rank), and `unlisted` (updates of an id no page had listed).
 *
 * Usage: node dist/bench/plain-server.js [--port 0] [--generate N] [--latency MS]
 *   [--rate-limit R --burst B] [--window]; prints `listening on http://127.0.0.1:PORT`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value < 0) {
    process.stderr.write(`plain-server: --${name} needs a number ≥ 0\n`);
    process.exit(2);
  }
  return value;
}

const port = flag('port', 0);
const generate = flag('generate', 1000);
const latencyMs = flag('latency', 0);
const rateLimit = flag('rate-limit', 0);
const burst = flag('burst', rateLimit);
const trackWindow = process.argv.includes('--window');

const width = Math.max(6, String(generate).length);
const tags = new Map<string, string[]>();
for (let i = 1; i <= generate; i++) tags.set(`img-${String(i).padStart(width, '0')}`, ['plain', `g-${i % 5}`]);
const ids = [...tags.keys()];

interface Stats {
  requests: number;
  byEndpoint: Record<string, number>;
  byStatus: Record<string, number>;
  rateLimited: number;
  maxInFlight: number;
  updatesApplied: number;
  firstRequestAt: number | null;
  lastRequestAt: number | null;
}
let stats: Stats;
let inFlight = 0;
/** --window: when the page last listing each id finished sending; the deltas measured so far. */
const listedAt = new Map<string, number>();
let windows: number[] = [];
let unlisted = 0;
function resetStats(): void {
  stats = { requests: 0, byEndpoint: {}, byStatus: {}, rateLimited: 0, maxInFlight: 0, updatesApplied: 0, firstRequestAt: null, lastRequestAt: null };
  listedAt.clear();
  windows = [];
  unlisted = 0;
}
resetStats();

/** The window's summary for /_stats: nearest-rank percentiles of the sorted deltas, ms. */
function windowStats() {
  const sorted = [...windows].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? null;
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null;
  return { count: sorted.length, unlisted, p50: rank(0.5), p99: rank(0.99), max: sorted.at(-1) ?? null, mean };
}

// The token bucket: refilled lazily from a monotonic clock.
let tokens = burst;
let refilledAt = performance.now();
function take(now: number): boolean {
  tokens = Math.min(burst, tokens + ((now - refilledAt) * rateLimit) / 1000);
  refilledAt = now;
  if (tokens < 1) return false;
  tokens -= 1;
  return true;
}

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const send = () => {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    if (body === '') res.writeHead(status, { 'content-length': '0', ...headers }).end();
    else res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers }).end(body);
  };
  if (latencyMs > 0) setTimeout(send, latencyMs);
  else send();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === '/_stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(trackWindow ? { ...stats, window: windowStats() } : stats));
    return;
  }
  if (path === '/_reset') {
    await readBody(req);
    resetStats();
    tokens = burst;
    refilledAt = performance.now();
    res.writeHead(204).end();
    return;
  }
  const now = performance.now();
  stats.requests++;
  stats.firstRequestAt ??= now;
  stats.lastRequestAt = now;
  const endpoint = req.method === 'POST' && path.startsWith('/update/') ? 'POST /update/' : `${req.method} ${path}`;
  stats.byEndpoint[endpoint] = (stats.byEndpoint[endpoint] ?? 0) + 1;
  inFlight++;
  if (inFlight > stats.maxInFlight) stats.maxInFlight = inFlight;
  res.once('close', () => inFlight--);

  const body = req.method === 'POST' ? await readBody(req) : '';
  if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) return reply(res, 401, '{"error":"Unauthorized"}');
  if (rateLimit > 0 && !take(now)) {
    stats.rateLimited++;
    return reply(res, 429, '{"error":"Too Many Requests"}', { 'retry-after': '1' });
  }
  if (req.method === 'GET' && path === '/get/') {
    const params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const page = Math.max(1, Number(params.get('page') ?? 1) || 1);
    const size = Math.min(1000, Math.max(1, Number(params.get('page_size') ?? 20) || 20));
    const records = ids.slice((page - 1) * size, page * size).map((id) => ({ object_id: id, tags: tags.get(id) }));
    if (trackWindow) {
      res.once('finish', () => {
        const sent = performance.now();
        for (const r of records) listedAt.set(r.object_id, sent);
      });
    }
    return reply(res, 200, JSON.stringify(records));
  }
  if (req.method === 'GET' && path === '/user/') {
    return reply(res, 200, JSON.stringify({ name: 'bench', bucket_id: 'bench', image_count: tags.size }));
  }
  if (req.method === 'POST' && path.startsWith('/update/')) {
    const id = decodeURIComponent(path.slice('/update/'.length));
    if (!tags.has(id)) return reply(res, 404, '{"error":"Image not found"}');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    const next = (parsed as { tags?: unknown } | undefined)?.tags;
    if (!Array.isArray(next) || !next.every((t) => typeof t === 'string')) return reply(res, 400, '{"error":"tags must be an array of strings"}');
    tags.set(id, next);
    stats.updatesApplied++;
    if (trackWindow) {
      const listed = listedAt.get(id);
      if (listed === undefined) unlisted++;
      else windows.push(now - listed);
    }
    return reply(res, 200, '');
  }
  return reply(res, 404, '{"error":"Not found"}');
}

const server = createServer((req, res) => {
  handle(req, res).catch(() => res.destroy());
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address() as AddressInfo;
  process.stdout.write(`listening on http://127.0.0.1:${bound}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  process.exit(0);
});
