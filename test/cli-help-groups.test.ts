/**
 * `retag <command> --help` groups its options (input, connection, pace, safety, output) and lists
 * only the options the command uses (issue: validate/plan/probe listed options they reject).
 */
import { beforeAll, expect, test } from '@jest/globals';
import { assertBuilt, mapLimit, runCli, type CliResult } from './helpers/cli.js';

/** Per command: the groups it must show, options it must list, options it must not. */
const EXPECTED: Record<string, { groups: string[]; has: string[]; not: string[] }> = {
  run: { groups: ['Input', 'Connection', 'Pace', 'Safety', 'Output'], has: ['--dry-run', '--max-changes', '--resume', '--verify', '--delimiter', '--encoding'], not: ['--lock-dir'] },
  plan: { groups: ['Input', 'Connection', 'Pace', 'Output'], has: ['--out', '--skip-invalid'], not: ['--resume', '--verify', '--max-failures', '--max-changes', '--dry-run'] },
  apply: { groups: ['Connection', 'Pace', 'Safety', 'Output'], has: ['--resume', '--max-changes', '--dry-run'], not: ['--format', '--tag-separator', '--read', '--skip-invalid'] },
  rename: { groups: ['Input', 'Connection', 'Pace', 'Safety', 'Output'], has: ['--max-tag-length', '--dry-run', '--max-changes'], not: ['--format', '--delimiter', '--encoding', '--read', '--skip-invalid'] },
  strip: { groups: ['Input', 'Connection', 'Pace', 'Safety', 'Output'], has: ['--max-tag-length', '--dry-run', '--max-changes'], not: ['--format', '--delimiter', '--read'] },
  undo: { groups: ['Connection', 'Pace', 'Safety', 'Output'], has: ['--dry-run', '--resume'], not: ['--format', '--read', '--skip-invalid'] },
  job: { groups: ['Input', 'Connection', 'Pace', 'Safety', 'Output'], has: ['--lock-dir', '--resume'], not: [] },
  tags: { groups: ['Connection', 'Pace', 'Output'], has: ['--suggest', '--format'], not: ['--resume', '--dry-run', '--read'] },
  export: { groups: ['Connection', 'Pace', 'Output'], has: ['--out'], not: ['--resume', '--dry-run', '--read', '--verify'] },
  probe: { groups: ['Connection', 'Output'], has: ['--page-size'], not: ['--concurrency', '--rate', '--retries', '--resume'] },
  validate: { groups: ['Input'], has: ['--read', '--format', '--encoding'], not: ['--rate', '--concurrency', '--base-url', '--resume', '--out'] },
  sim: { groups: ['Server', 'Library', 'Rate limit', 'Listing', 'Faults'], has: ['--list-order', '--page-overlap', '--past-end'], not: ['--rate', '--resume'] },
};

const helps = new Map<string, CliResult>();
beforeAll(async () => {
  assertBuilt();
  await mapLimit(Object.keys(EXPECTED), 3, async (c) => void helps.set(c, await runCli([c, '--help'])));
}, 60_000);

/** The option names of a help text, by the group heading they sit under. */
function optionsByGroup(text: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  let current = '';
  for (const line of text.split('\n')) {
    const heading = /^([A-Z][A-Za-z ]+):$/.exec(line);
    if (heading) {
      current = heading[1]!;
      groups.set(current, []);
      continue;
    }
    const option = /^ {2}(--[a-z][a-z-]*)/.exec(line);
    if (option && current) groups.get(current)!.push(option[1]!);
  }
  return groups;
}

test.each(Object.keys(EXPECTED))('retag %s --help: grouped, only the options it uses', (command) => {
  const res = helps.get(command)!;
  expect(res.code).toBe(0);
  const groups = optionsByGroup(res.stdout);
  const { groups: want, has, not } = EXPECTED[command]!;
  for (const g of want) expect([command, g, (groups.get(g) ?? []).length > 0]).toEqual([command, g, true]);
  const all = new Set([...groups.values()].flat());
  for (const o of has) expect([command, o, all.has(o)]).toEqual([command, o, true]);
  for (const o of not) expect([command, o, all.has(o)]).toEqual([command, o, false]);
  // Every option but --help/--version sits in a named group, not under the catch-all "Options:".
  expect((groups.get('Options') ?? []).filter((o) => o !== '--help' && o !== '--version')).toEqual([]);
});

test.each(Object.keys(EXPECTED))('retag %s --help at 80 columns: every example command stays on its line', async (command) => {
  const res = await runCli([command, '--help'], { env: { COLUMNS: '80' } });
  const examples = (res.stdout.split(/^Examples:$/m)[1] ?? '').split(/^\S/m)[0]!;
  for (const line of examples.split('\n')) {
    if (line.trim() === '') continue;
    // An example line starts with its command; a wrapped description is indented far right.
    expect([command, line, /^ {2}retag |^ {10,}\S/.test(line)]).toEqual([command, line, true]);
  }
});
