import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createScrubber, REDACTED, scrubSecrets } from '../src/report/logger.js';

const KEY = 'rk_live_9f8e7d6c5b4a';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-logger-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function memory(): { write(s: string): void; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const chunks: string[] = [];
  return {
    write: (s: string) => void chunks.push(s),
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('scrubber', () => {
  test('replaces every occurrence, raw and JSON-escaped', () => {
    expect(scrubSecrets(`a ${KEY} b ${KEY}`, [KEY])).toBe(`a ${REDACTED} b ${REDACTED}`);
    const odd = 'k"e\\y';
    expect(createScrubber([odd])(JSON.stringify({ m: `x ${odd}` }))).toBe(`{"m":"x ${REDACTED}"}`);
  });

  test('ignores empty secrets; longer secrets first', () => {
    expect(scrubSecrets('abc', [''])).toBe('abc');
    expect(scrubSecrets('key-123456', ['key', 'key-123456'])).toBe(REDACTED);
  });
});

describe('createLogger', () => {
  test('never writes the key to a log file: messages, errors, stacks, apiKey, authorization headers', async () => {
    const logFile = join(dir, 'logs', 'retag.log');
    const { logger, flush } = createLogger({ logFile, redact: [KEY], runId: 'run-1' });
    const err = new Error(`request failed for key ${KEY}`);
    logger.error({ err, id: 'img1' }, 'update failed');
    logger.error(err);
    logger.info({ apiKey: KEY, nested: { apiKey: KEY } }, 'options');
    logger.info({ headers: { authorization: `Bearer ${KEY}` } }, 'request');
    logger.info({ req: { headers: { authorization: `Bearer ${KEY}` } } }, 'request');
    logger.info({ authorization: `Bearer ${KEY}` }, 'auth');
    logger.warn({ url: `https://api.reimage.dev/update/x?key=${KEY}` }, `text with ${KEY} inside`);
    logger.info({ cause: { message: `deep ${KEY}`, list: [KEY] } }, 'nested');
    await flush();

    const text = readFileSync(logFile, 'utf8');
    expect(text).not.toContain(KEY);
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(8);
    for (const line of lines) expect(line.runId).toBe('run-1');
    expect(lines[0]).toMatchObject({ level: 50, id: 'img1', msg: 'update failed', err: { type: 'Error' } });
    const loggedErr = lines[0]!.err as { message: string; stack: string };
    expect(loggedErr.message).toBe(`request failed for key ${REDACTED}`);
    expect(loggedErr.stack).toContain(REDACTED);
    expect(lines[1]).toMatchObject({ msg: `request failed for key ${REDACTED}` });
    expect(lines[2]).toMatchObject({ apiKey: REDACTED, nested: { apiKey: REDACTED } });
    expect(lines[3]).toMatchObject({ headers: { authorization: REDACTED } });
    expect(lines[4]).toMatchObject({ req: { headers: { authorization: REDACTED } } });
    expect(lines[5]).toMatchObject({ authorization: REDACTED });
  });

  test('key paths are censored even when the value is not a configured secret', () => {
    const out = memory();
    const { logger } = createLogger({ redact: [], destination: out, pretty: false });
    logger.info({ apiKey: 'other', headers: { authorization: 'Bearer other' } }, 'x');
    expect(out.lines()[0]).toMatchObject({ apiKey: REDACTED, headers: { authorization: REDACTED } });
  });

  test('JSON lines with level, time, msg; level filtering; no runId when not given', () => {
    const out = memory();
    const { logger } = createLogger({ level: 'warn', redact: [KEY], destination: out, pretty: false });
    logger.info('hidden');
    logger.warn({ id: 'a' }, 'shown');
    const lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, id: 'a', msg: 'shown' });
    expect(typeof lines[0]!.time).toBe('string');
    expect(lines[0]).not.toHaveProperty('runId');
  });

  test('child loggers keep redaction and runId', () => {
    const out = memory();
    const { logger } = createLogger({ redact: [KEY], destination: out, pretty: false, runId: 'r' });
    logger.child({ id: 'img' }).error({ err: new Error(KEY) }, `x ${KEY}`);
    expect(out.text()).not.toContain(KEY);
    expect(out.lines()[0]).toMatchObject({ runId: 'r', id: 'img' });
  });

  test('pretty output is human lines, still redacted', () => {
    const out = memory();
    const { logger } = createLogger({ redact: [KEY], destination: out, pretty: true, runId: 'r' });
    logger.error({ err: new Error(`boom ${KEY}`), apiKey: KEY }, `failed ${KEY}`);
    const text = out.text();
    expect(text).toContain('ERROR');
    expect(text).toContain(`failed ${REDACTED}`);
    expect(text).not.toContain(KEY);
    expect(() => JSON.parse(text.split('\n')[0]!)).toThrow();
  });

  test('appends to an existing log file', async () => {
    const logFile = join(dir, 'x.log');
    for (const msg of ['one', 'two']) {
      const { logger, flush } = createLogger({ logFile, redact: [] });
      logger.info(msg);
      await flush();
    }
    expect(readFileSync(logFile, 'utf8').trim().split('\n')).toHaveLength(2);
  });
});

describe('a log that cannot be written', () => {
  test('a full disk (--log-file /dev/full) stops logging, never the run: writes and flush return', async () => {
    const { existsSync } = await import('node:fs');
    if (!existsSync('/dev/full')) return; // Linux only; this machine and CI have it
    const { logger, flush } = createLogger({ logFile: '/dev/full', redact: [] });
    expect(() => {
      logger.info('first');
      logger.error({ id: 'x' }, 'second');
    }).not.toThrow();
    await expect(Promise.race([flush().then(() => 'flushed'), new Promise((r) => setTimeout(() => r('hung'), 5000))])).resolves.toBe('flushed');
  });
});
