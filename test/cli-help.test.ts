/**
 * End to end: the CLI's usage surface. `--help` of every command exits 0 and shows examples;
 * an unknown flag, an unknown command or a bad option value exits 2 with a message that says
 * what is wrong, and sends nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRecordingServer, type RecordingServer } from './helpers/recording-server.js';
import { assertBuilt, mapLimit, runCli, tempDir, type CliResult } from './helpers/cli.js';

const tmp = tempDir('retag-cli-help-');
let server: RecordingServer;
let topHelp: CliResult;
let commands: string[];
const helps = new Map<string, CliResult>();

beforeAll(async () => {
  assertBuilt();
  server = await createRecordingServer();
  server.handle({ status: 200, body: [] });
  topHelp = await runCli(['--help']);
  // The commands are whatever `retag --help` lists, so a new command is covered without editing this file.
  const section = topHelp.stdout.split(/^Commands:$/m)[1]?.split(/^Options:$/m)[0] ?? '';
  // `completion` is yargs' own: its --help prints the script (tested below).
  commands = [...section.matchAll(/^ {2}retag (\w[\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'completion');
  await mapLimit(commands, 3, async (c) => void helps.set(c, await runCli([c, '--help'])));
}, 60_000);

afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

test('retag --help exits 0 and lists the commands of design §7, the environment and the exit codes', () => {
  expect(topHelp.code).toBe(0);
  expect(commands).toEqual(expect.arrayContaining(['run', 'plan', 'apply', 'rename', 'strip', 'tags', 'validate', 'job', 'undo', 'export', 'sim']));
  expect(topHelp.stdout).toMatch(/^ {2}retag completion/m);
  expect(topHelp.stdout).toContain('REIMAGE_API_KEY');
  expect(topHelp.stdout).toMatch(/Exit codes/);
});

test('retag completion prints a shell completion script', async () => {
  const res = await runCli(['completion']);
  expect(res.code).toBe(0);
  expect(res.stdout).toContain('complete -o bashdefault -o default -F _retag_yargs_completions retag');
});

test('every command: --help exits 0 and shows examples', () => {
  expect(helps.size).toBe(commands.length);
  for (const [c, res] of helps) {
    expect({ c, code: res.code }).toEqual({ c, code: 0 });
    expect(res.stdout).toContain(`retag ${c}`);
    if (!/^Examples:$/m.test(res.stdout)) throw new Error(`retag ${c} --help shows no examples:\n${res.stdout}`);
    expect(res.stderr).toBe('');
  }
});

describe('bad invocations: exit 2, a message naming the problem, nothing sent', () => {
  const env = () => ({ REIMAGE_API_KEY: 'sk_test_help', REIMAGE_BASE_URL: server.url });
  const manifest = () => {
    const file = join(tmp.dir, 'ok.ndjson');
    writeFileSync(file, '{"id":"img-1","add":["a"]}\n');
    return file;
  };

  test.each([
    ['an unknown flag', ['--bogus'], /Unknown argument: --bogus/],
    ['a misspelt flag', ['--concurrancy', '4'], /Unknown argument: --concurrancy/],
    ['--concurrency 0', ['--concurrency', '0'], /--concurrency expects a whole number/],
    ['--rate fast', ['--rate', 'fast'], /--rate expects/],
    ['--format xml', ['--format', 'xml'], /format/],
  ])('retag run with %s', async (_label, extra, message) => {
    const res = await runCli(['run', manifest(), '--out', join(tmp.dir, `out-${extra[0]}`), ...extra], { env: env() });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
    expect(res.stdout).toBe('');
    expect(server.requests).toHaveLength(0);
  });

  test('no command at all', async () => {
    const res = await runCli([]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Name a command/);
  });

  test('run without a manifest', async () => {
    const res = await runCli(['run'], { env: env() });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/manifest|Not enough non-option arguments/);
  });

  // (yargs' recommendCommands message alone, "Did you mean job?", reaches .fail() first)
  test('an unknown command names it (not only "Did you mean …?")', async () => {
    const res = await runCli(['frob'], { env: env() });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Unknown command "frob"/);
  });

  test('a plain-http base URL to a non-loopback host is refused before any request', async () => {
    const res = await runCli(['run', manifest(), '--out', join(tmp.dir, 'out-http')], {
      env: { REIMAGE_API_KEY: 'sk_test_help', REIMAGE_BASE_URL: 'http://example.com' },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/clear text/);
  });

  test('no API key at all: exit 2 naming both ways to give one', async () => {
    const res = await runCli(['run', manifest(), '--out', join(tmp.dir, 'out-nokey')], { env: { REIMAGE_BASE_URL: server.url } });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--api-key-file/);
    expect(res.stderr).toMatch(/REIMAGE_API_KEY/);
    expect(server.requests).toHaveLength(0);
  });
});
