import { describe, expect, test } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import {
  createProgress,
  createScanProgress,
  formatBar,
  formatDuration,
  progressLogFields,
  renderProgressLine,
  type ProgressSnapshot,
} from '../src/report/progress.js';

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

/** What a terminal would show last: the text after the final erase-line. */
function lastLine(out: string): string {
  const parts = out.split('\r\x1b[2K');
  return parts.at(-1)!.replace(/\n$/, '');
}

function fakeTerminal(columns: number) {
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns });
  const written: string[] = [];
  stream.on('data', (d: Buffer) => written.push(d.toString()));
  return { stream, out: () => written.join('') };
}

describe('the live line fits the terminal', () => {
  // A 40,000-image run well under way, with every field at its widest.
  const big: ProgressSnapshot = {
    done: 12_345,
    total: 40_000,
    updated: 12_000,
    unchanged: 222,
    failed: 123,
    skipped: 0,
    status429: 4567,
    rate: 24.9,
    etaSeconds: 3720,
    elapsedSeconds: 500,
    phase: 'work',
    scan: { pages: 180, images: 18_000, matched: 12_400, rate: 36 },
  };
  const scanning: ProgressSnapshot = {
    ...big,
    done: 0,
    updated: 0,
    unchanged: 0,
    failed: 0,
    rate: 0,
    etaSeconds: null,
    phase: 'scan',
    scan: { pages: 400, images: 40_000, matched: 39_999, rate: 2483.3 },
  };

  test.each([40, 80, 160])('work at %i columns: at most width - 1, done/total kept', (width) => {
    const line = renderProgressLine(big, width);
    expect(line.length).toBeLessThanOrEqual(width - 1);
    expect(line).toContain('12345/40000');
    expect(line).not.toContain('\n');
  });

  test('work degrades: the bar shrinks, then ETA, rate and 429s go, failures stay longest', () => {
    expect(renderProgressLine(big, 160)).toBe(
      '[=========---------------------] 12345/40000 | 24.9/s | ETA 1h 02m | failed 123 | 429s 4567 | read 18000',
    );
    const at80 = renderProgressLine(big, 80);
    expect(at80).toMatch(/^\[=+-*\] 12345\/40000 \| 24\.9\/s \| ETA 1h 02m \| failed 123 \| 429s 4567$/);
    expect(at80.length).toBe(79); // the bar took what was left
    expect(renderProgressLine(big, 40)).toBe('12345/40000 | failed 123 | 429s 4567');
    expect(renderProgressLine(big, 30)).toBe('12345/40000 | failed 123');
    expect(renderProgressLine(big, 21)).toBe('12345/40000 fail 123');
    expect(renderProgressLine(big, 12)).toBe('12345/40000');
    expect(renderProgressLine(big, 6)).toBe('30%'); // too narrow for done/total: never a cut number
    expect(renderProgressLine(big, 3)).toBe('30');
    expect(renderProgressLine(big, 1)).toBe('');
  });

  test('every width from 1 to 200 fits, in both phases', () => {
    for (const s of [big, scanning, { ...big, scan: undefined, total: null, etaSeconds: null }]) {
      for (let width = 1; width <= 200; width++) {
        expect(renderProgressLine(s, width).length).toBeLessThanOrEqual(Math.max(0, width - 1));
      }
    }
  });

  test('at wide terminals the work line is the classic bar line', () => {
    const snap = { ...big, scan: undefined, done: 120, total: 500, failed: 2, status429: 1, rate: 9.8, etaSeconds: 39 };
    expect(renderProgressLine(snap, 160)).toBe(formatBar(snap, 0.24, 30));
  });

  test.each([40, 80, 160])('scan at %i columns: at most width - 1, matched of total kept', (width) => {
    const line = renderProgressLine(scanning, width);
    expect(line.length).toBeLessThanOrEqual(width - 1);
    expect(line).toContain('39999/40000');
  });

  test('scan degrades: rate, then 429s, then long labels, then pages go', () => {
    expect(renderProgressLine(scanning, 160)).toBe(
      'scanning: page 400 | 40000 images read | 39999/40000 matched | 2483 img/s | 429s 4567',
    );
    expect(renderProgressLine(scanning, 80)).toBe('scanning: page 400 | 40000 images read | 39999/40000 matched | 429s 4567');
    expect(renderProgressLine(scanning, 40)).toBe('40000 read | 39999/40000 matched');
    // export/tags: no matched, images read is what is left
    const exporting: ProgressSnapshot = { ...scanning, total: null, scan: { ...scanning.scan!, matched: null } };
    expect(renderProgressLine(exporting, 80)).toBe('scanning: page 400 | 40000 images read | 2483 img/s | 429s 4567');
    expect(renderProgressLine(exporting, 40)).toBe('scanning: page 400 | 40000 images read');
    expect(renderProgressLine(exporting, 20)).toBe('40000 read');
  });
});

describe('progress on a narrow terminal', () => {
  test('every line written fits columns - 1, and a resize is followed at once', () => {
    const { stream, out } = fakeTerminal(40);
    let t = 0;
    const progress = createProgress({ total: 40_000, stream, now: () => t });
    for (let i = 0; i < 12_345; i++) {
      t += 40;
      progress.tick(i % 100 === 0 ? 'failed' : 'updated');
    }
    for (let i = 0; i < 4567; i++) progress.note429();
    stream.columns = 100;
    stream.emit('resize');
    const wide = lastLine(out());
    expect(wide.length).toBeLessThanOrEqual(99);
    expect(wide).toContain('ETA'); // room again for the ETA
    stream.columns = 40;
    stream.emit('resize');
    expect(lastLine(out())).toBe('12345/40000 | failed 124 | 429s 4567');
    progress.stop();
    expect(out().endsWith('12345/40000 | failed 124 | 429s 4567\n')).toBe(true);
    for (const line of out().split(/\r\x1b\[2K|\n/)) expect(line.length).toBeLessThanOrEqual(99);
    expect(stream.listenerCount('resize')).toBe(0); // stop() let go of the stream
  });

  test('a terminal that does not say its width is taken as 80 columns', () => {
    const { stream, out } = fakeTerminal(0);
    const progress = createProgress({ total: 40_000, stream, now: () => 0 });
    progress.stop();
    expect(lastLine(out()).length).toBeLessThanOrEqual(79);
    expect(lastLine(out())).toContain('0/40000');
  });
});

describe('scan progress', () => {
  test('on a terminal: pages, images read and matched, then the work line once items finish (auto)', () => {
    const { stream, out } = fakeTerminal(80);
    let t = 0;
    const progress = createProgress({ total: 500, stream, now: () => t });
    expect(lastLine(out())).toMatch(/^\[-+\] 0\/500 /); // nothing scanned yet: the work line
    t = 2000;
    progress.scan({ pages: 3, images: 300, matched: 12 });
    expect(progress.snapshot()).toMatchObject({ phase: 'scan', scan: { pages: 3, images: 300, matched: 12, rate: 150 } });
    stream.emit('resize'); // draws now
    expect(lastLine(out())).toBe('scanning: page 3 | 300 images read | 12/500 matched | 150 img/s | 429s 0');
    progress.tick('updated');
    progress.stop();
    expect(lastLine(out())).toMatch(/^\[-+\] 1\/500 \| .* \| read 300$/);
  });

  test('createScanProgress stays on the scan line (plan: items finishing does not switch it)', () => {
    const { stream, out } = fakeTerminal(80);
    const progress = createScanProgress({ total: 5, stream, now: () => 0 });
    expect(lastLine(out())).toBe('scanning: page 0 | 0 images read | 0 img/s | 429s 0');
    progress.scan({ pages: 1, images: 100, matched: 2 });
    progress.tick('unchanged');
    progress.note429();
    progress.stop();
    expect(out().endsWith('scanning: page 1 | 100 images read | 2/5 matched | 0 img/s | 429s 1\n')).toBe(true);
  });

  test('without a terminal: progress log lines with phase "scan", pages, images, matched', async () => {
    const { logger, lines } = memoryLogger();
    const stream = new PassThrough();
    const written: string[] = [];
    stream.on('data', (d: Buffer) => written.push(d.toString()));
    let t = 0;
    const progress = createScanProgress({ stream, isTTY: false, logger, intervalMs: 10, now: () => t });
    t = 4000;
    progress.scan({ pages: 4, images: 400 });
    await until(() => lines().some((l) => l.images === 400));
    progress.stop();
    const logged = lines().filter((l) => l.msg === 'progress' && l.images === 400);
    expect(logged[0]).toMatchObject({ level: 30, phase: 'scan', pages: 4, images: 400, matched: null, total: null, rate: 100, status429: 0 });
    expect(logged[0]).not.toHaveProperty('done'); // nothing is written in a scan: no done/ETA noise
    expect(written.join('')).toBe('');
  });

  test('log fields of the work phase are the whole snapshot', () => {
    const progress = createProgress({ total: 3, isTTY: false, now: () => 0 });
    progress.tick('updated');
    progress.stop();
    const s = progress.snapshot();
    expect(progressLogFields(s)).toBe(s);
    expect(s).toMatchObject({ phase: 'work', done: 1, total: 3 });
    expect(s).not.toHaveProperty('scan');
  });
});
