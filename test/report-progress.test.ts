import { describe, expect, test } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { createProgress, formatBar, formatDuration, type ProgressSnapshot } from '../src/report/progress.js';

function memoryLogger() {
  const chunks: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void chunks.push(s) });
  const lines = () => chunks.map((c) => JSON.parse(c) as Record<string, unknown>);
  return { logger, lines };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll instead of a fixed sleep, so a loaded machine does not make the test flaky. */
async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('progress without a terminal', () => {
  test('logs a progress line every interval with done, total, failed, rate, eta, 429s', async () => {
    const { logger, lines } = memoryLogger();
    const stream = new PassThrough();
    const written: string[] = [];
    stream.on('data', (d: Buffer) => written.push(d.toString()));
    const progress = createProgress({ total: 10, stream, isTTY: false, logger, intervalMs: 20 });
    progress.tick('updated');
    progress.tick('failed');
    progress.tick('unchanged');
    progress.note429();
    await until(() => lines().length >= 2);
    progress.stop();
    const logged = lines().filter((l) => l.msg === 'progress');
    expect(logged.length).toBeGreaterThanOrEqual(2);
    expect(logged[0]).toMatchObject({
      level: 30,
      done: 3,
      total: 10,
      updated: 1,
      unchanged: 1,
      failed: 1,
      skipped: 0,
      status429: 1,
    });
    expect(typeof logged[0]!.rate).toBe('number');
    expect(logged[0]).toHaveProperty('etaSeconds');
    expect(written.join('')).toBe(''); // no bar on a non-terminal

    const count = lines().length;
    await sleep(50);
    expect(lines().length).toBe(count); // stop() cleared the timer
  });

  test('rate and ETA from an injected clock; unknown total until setTotal', async () => {
    const { logger, lines } = memoryLogger();
    let t = 1_000_000;
    const progress = createProgress({ total: undefined, isTTY: false, logger, intervalMs: 10, now: () => t });
    for (let i = 0; i < 20; i++) {
      t += 500;
      progress.tick('updated');
    }
    await until(() => lines().length > 0);
    expect(lines().at(-1)).toMatchObject({ done: 20, total: null, rate: 2, etaSeconds: null });
    progress.setTotal(30);
    await until(() => lines().at(-1)?.total === 30);
    expect(lines().at(-1)).toMatchObject({ done: 20, total: 30, rate: 2, etaSeconds: 5 });
    progress.stop();
  });

  test('the timer does not keep the process alive and stop is idempotent', () => {
    const { logger } = memoryLogger();
    const progress = createProgress({ total: 1, isTTY: false, logger });
    progress.stop();
    progress.stop();
    progress.tick('updated'); // after stop: ignored, no throw
  });
});

describe('progress on a terminal', () => {
  test('draws a bar with done/total, failures and 429s', async () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    const written: string[] = [];
    stream.on('data', (d: Buffer) => written.push(d.toString()));
    const { logger, lines } = memoryLogger();
    const progress = createProgress({ total: 4, stream, logger, intervalMs: 5 });
    progress.tick('updated');
    progress.tick('failed');
    progress.note429();
    progress.note429();
    await sleep(30);
    progress.stop();
    const out = written.join('');
    expect(out).toContain('2/4');
    expect(out).toContain('failed 1');
    expect(out).toContain('429s 2');
    expect(lines()).toHaveLength(0); // no progress log lines on a terminal
  });
});

describe('formatting', () => {
  const snap: ProgressSnapshot = {
    done: 120,
    total: 500,
    updated: 118,
    unchanged: 0,
    failed: 2,
    skipped: 0,
    status429: 1,
    rate: 9.8,
    etaSeconds: 39,
    elapsedSeconds: 12,
  };
  test('formatBar', () => {
    expect(formatBar(snap, 0.24, 10)).toBe('[==--------] 120/500 | 9.8/s | ETA 39s | failed 2 | 429s 1');
    expect(formatBar({ ...snap, total: null, etaSeconds: null }, 0, 10)).toBe('120/? | 9.8/s | ETA ? | failed 2 | 429s 1');
  });
  test('formatDuration', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59.4)).toBe('59s');
    expect(formatDuration(185)).toBe('3m 05s');
    expect(formatDuration(3720)).toBe('1h 02m');
  });
});

describe('log lines on the terminal of a live bar', () => {
  test('are written above the bar, which is drawn again after each', async () => {
    const { writeAboveLiveLine } = await import('../src/report/terminal.js');
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    const written: string[] = [];
    stream.on('data', (d: Buffer) => written.push(d.toString()));
    const progress = createProgress({ total: 2, stream });
    progress.tick('updated');
    writeAboveLiveLine(() => stream.write('ERROR: img-1 failed\n'));
    progress.stop();
    writeAboveLiveLine(() => stream.write('after the bar\n'));
    await sleep(5);
    const out = written.join('');
    // The bar's line is erased before the log line, and the bar comes back below it.
    expect(out).toMatch(/\r\x1b\[2KERROR: img-1 failed\n\r\x1b\[2K\S*.*1\/2/);
    // Once stopped, the bar is finished with a newline and no longer redrawn.
    expect(out.endsWith('failed 0 | 429s 0\nafter the bar\n')).toBe(true);
  });
});
