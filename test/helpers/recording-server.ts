/**
 * A real HTTP server on 127.0.0.1, port 0, that records every request and answers from a
 * script (style.md §8; after ky's test/helpers/create-http-test-server.ts).
 *
 *   const server = await createRecordingServer();
 *   server.enqueue(reply(429, { error: 'slow down' }, { 'retry-after': '1' }), reply(200));
 *   server.handle((req) => reply(200, pageOf(req)));   // once the queue is empty
 *   ... server.requests[0].method / .path / .headers / .body / .json
 *   await server.close();
 *
 * A script step is either a ReplySpec ({status, body, headers, delayMs}) or a handler
 * `(req, res, ctx) => ReplySpec | void` that may answer `res` itself. `drop()` destroys the
 * socket without answering; `hang()` never answers (close() still ends it).
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  /** 0-based arrival index. */
  index: number;
  method: string;
  /** Path and query as received, e.g. "/update/a%20b" or "/get/?page=1&page_size=50". */
  url: string;
  /** Path without the query. */
  path: string;
  /** Parsed query parameters (last value wins). */
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Raw body text ("" when none). */
  body: string;
  /** The body parsed as JSON, or undefined when it is empty or not JSON. */
  json: unknown;
  /** Arrival time (Date.now()). */
  at: number;
}

export interface ReplySpec {
  status?: number;
  /** A string or Buffer is sent as is; anything else as JSON. Omitted → empty body. */
  body?: unknown;
  headers?: Record<string, string | number | string[]>;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface HandlerContext {
  /** Destroy the connection without an answer (the client sees a socket error). */
  drop(): void;
  /** Resolves after ms, or when the server closes. */
  sleep(ms: number): Promise<void>;
}

export type Handler = (
  req: RecordedRequest,
  res: ServerResponse,
  ctx: HandlerContext,
) => ReplySpec | void | Promise<ReplySpec | void>;

export type ScriptStep = ReplySpec | Handler;

export interface RecordingServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  readonly server: Server;
  /** Queue one-shot steps, used in order, one per request. */
  enqueue(...steps: ScriptStep[]): RecordingServer;
  /** The step used when the queue is empty (default: 599 {"error": "no scripted reply"}). */
  handle(step: ScriptStep): RecordingServer;
  /** Steps still queued. */
  pending(): number;
  /** Resolves once at least n requests have arrived. */
  waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Forget recorded requests and queued steps. */
  reset(): void;
  /** Close the server and every connection, answered or not. */
  close(): Promise<void>;
}

/** A ReplySpec, tersely: reply(404, { error: 'Image not found' }). */
export function reply(status = 200, body?: unknown, headers?: ReplySpec['headers']): ReplySpec {
  const spec: ReplySpec = { status };
  if (body !== undefined) spec.body = body;
  if (headers !== undefined) spec.headers = headers;
  return spec;
}

/** A step that destroys the connection without answering. */
export function drop(): Handler {
  return (_req, _res, ctx) => ctx.drop();
}

/** A step that never answers (until close()). */
export function hang(): Handler {
  return () => new Promise<void>(() => undefined);
}

/** A step that answers after a delay. */
export function delayed(ms: number, spec: ReplySpec = {}): ReplySpec {
  return { ...spec, delayMs: ms };
}

function parseQuery(url: string): Record<string, string> {
  const q = url.indexOf('?');
  const out: Record<string, string> = {};
  if (q < 0) return out;
  for (const [k, v] of new URLSearchParams(url.slice(q + 1))) out[k] = v;
  return out;
}

export async function createRecordingServer(options: { fallback?: ScriptStep } = {}): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const queue: ScriptStep[] = [];
  let fallback: ScriptStep = options.fallback ?? reply(599, { error: 'no scripted reply' });
  const sockets = new Set<Socket>();
  const timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  const waiters = new Set<() => void>();
  let closed = false;

  const sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      const entry = {
        resolve,
        timer: setTimeout(() => {
          timers.delete(entry);
          resolve();
        }, ms),
      };
      timers.add(entry);
    });

  async function answer(step: ScriptStep, rec: RecordedRequest, req: IncomingMessage, res: ServerResponse) {
    const ctx: HandlerContext = {
      drop: () => req.socket.destroy(),
      sleep,
    };
    let spec: ReplySpec | void;
    if (typeof step === 'function') {
      spec = await step(rec, res, ctx);
      if (spec === undefined || res.headersSent || res.writableEnded || req.socket.destroyed) return;
    } else {
      spec = step;
    }
    if (spec.delayMs) await sleep(spec.delayMs);
    if (closed || req.socket.destroyed) return;
    let payload: string | Buffer = '';
    const headers: Record<string, string | number | string[]> = { ...(spec.headers ?? {}) };
    if (spec.body !== undefined) {
      if (typeof spec.body === 'string' || Buffer.isBuffer(spec.body)) {
        payload = spec.body;
      } else {
        payload = JSON.stringify(spec.body);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
          headers['content-type'] = 'application/json';
        }
      }
    }
    headers['content-length'] = Buffer.byteLength(payload);
    res.writeHead(spec.status ?? 200, headers);
    res.end(payload);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      if (body !== '') {
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
      }
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const rec: RecordedRequest = {
        index: requests.length,
        method: req.method ?? 'GET',
        url,
        path: q < 0 ? url : url.slice(0, q),
        query: parseQuery(url),
        headers: req.headers,
        body,
        json,
        at: Date.now(),
      };
      requests.push(rec);
      for (const w of [...waiters]) w();
      const step = queue.length > 0 ? queue.shift()! : fallback;
      answer(step, rec, req, res).catch((err: unknown) => {
        if (!res.headersSent && !req.socket.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: `recording server handler threw: ${String(err)}` }));
        }
      });
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const api: RecordingServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    server,
    enqueue(...steps) {
      queue.push(...steps);
      return api;
    },
    handle(step) {
      fallback = step;
      return api;
    },
    pending: () => queue.length,
    waitForRequests(n, timeoutMs = 5000) {
      if (requests.length >= n) return Promise.resolve(requests.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`waited ${timeoutMs} ms for ${n} requests, got ${requests.length}`));
        }, timeoutMs);
        const check = () => {
          if (requests.length < n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(requests.slice());
        };
        waiters.add(check);
      });
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const entry of timers) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await done;
    },
  };
  return api;
}
