/** `retag sim` as a function: prints its address, serves, stops on abort (or a signal) and returns 0. */
import { describe, expect, test } from '@jest/globals';
import { Writable } from 'node:stream';
import { simCommand } from '../src/commands/sim.js';

function capture() {
  let text = '';
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stdout, text: () => text };
}

async function waitFor<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('simCommand', () => {
  test('serves the bundled library until aborted, then resolves 0', async () => {
    const out = capture();
    const ac = new AbortController();
    const done = simCommand({}, { stdout: out.stdout, signal: ac.signal });
    const line = await waitFor(() => (out.text().includes('\n') ? out.text() : undefined));
    expect(line).toMatch(
      /^reimage simulator listening on http:\/\/127\.0\.0\.1:\d+ \(205 images; keys: sk_test_alice → alice, sk_test_bob → bob\)\n$/,
    );
    const url = /listening on (\S+)/.exec(line)![1]!;
    const res = await fetch(`${url}/user/`, { headers: { authorization: 'Bearer sk_test_alice' } });
    expect(res.status).toBe(200);
    ac.abort();
    await expect(done).resolves.toBe(0);
    await expect(fetch(`${url}/user/`)).rejects.toThrow();
  });

  test('generated library and extra keys', async () => {
    const out = capture();
    const ac = new AbortController();
    const done = simCommand({ generate: 50, keys: { sk_x: 'xavier' } }, { stdout: out.stdout, signal: ac.signal });
    const line = await waitFor(() => (out.text().includes('\n') ? out.text() : undefined));
    expect(line).toContain('(50 images; keys: sk_x → xavier, sk_test_alice → alice)');
    ac.abort();
    await expect(done).resolves.toBe(0);
  });

  test('listens for SIGINT and SIGTERM while running and removes its listeners after', async () => {
    // Emitting a real signal inside a Jest worker could reach Jest's own handlers: count instead.
    const base = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') };
    const out = capture();
    const ac = new AbortController();
    const done = simCommand({ generate: 1 }, { stdout: out.stdout, signal: ac.signal });
    await waitFor(() => (out.text().includes('\n') ? true : undefined));
    expect(process.listenerCount('SIGINT')).toBe(base.int + 1);
    expect(process.listenerCount('SIGTERM')).toBe(base.term + 1);
    ac.abort();
    await expect(done).resolves.toBe(0);
    expect(process.listenerCount('SIGINT')).toBe(base.int);
    expect(process.listenerCount('SIGTERM')).toBe(base.term);
  });

  test('an already aborted signal stops at once; bad options reject', async () => {
    const out = capture();
    await expect(simCommand({ generate: 1 }, { stdout: out.stdout, signal: AbortSignal.abort() })).resolves.toBe(0);
    await expect(simCommand({ host: '0.0.0.0' }, { stdout: out.stdout })).rejects.toThrow(/loopback/);
  });
});
