// The option table of docs/usage.md says what the options are: every option of `sockvisor run` is
// in it, nothing else is, and each default is the one the code uses. Pure file reads, no root needed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { optionTableLines, OPTIONS_BEGIN, OPTIONS_END, withOptionTable } from '../../src/config/option-docs.js';
import { describeDefault, RUN_OPTIONS } from '../../src/config/options.js';
import { defaultRestartPolicy } from '../../src/supervisor/restart-policy.js';
import { DEFAULT_HANDOVER_TIMEOUT_S, DEFAULT_HEALTH_FAILURES, DEFAULT_STOP_TIMEOUT_S } from '../../src/config/run-config.js';

const USAGE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'usage.md');
const FIX = 'run `npm run docs:options` to write the table from src/config/options.ts';

interface Row {
  option: string;
  default: string;
}

/** The rows of a table between the markers: the first --name of the first cell, and the last cell. */
function tableRows(text: string): Row[] {
  const begin = text.indexOf(OPTIONS_BEGIN);
  const end = text.indexOf(OPTIONS_END);
  assert.ok(begin >= 0 && end > begin, `docs/usage.md has no option table between ${OPTIONS_BEGIN} and ${OPTIONS_END}`);
  return text
    .slice(begin + OPTIONS_BEGIN.length, end)
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
      return { option: /--([a-z-]+)/.exec(cells[1]!)![1]!, default: cells.at(-2)!.replaceAll('\\|', '|').replaceAll('`', '') };
    });
}

const docsRows = (): Row[] => tableRows(readFileSync(USAGE, 'utf8'));
const optionRows = (): Row[] => RUN_OPTIONS.map((o) => ({ option: o.name, default: describeDefault(o.default) }));

test('the option table of docs/usage.md names every option of `sockvisor run`, and no other', () => {
  const documented = docsRows().map((r) => r.option);
  const options = RUN_OPTIONS.map((o) => o.name);
  const disagreement = { missing: options.filter((o) => !documented.includes(o)), extra: documented.filter((o) => !options.includes(o)) };
  assert.deepEqual(disagreement, { missing: [], extra: [] }, `docs/usage.md and the options disagree: ${FIX}`);
});

test('each default in docs/usage.md is the default the options declare', () => {
  const declared = new Map(optionRows().map((r) => [r.option, r.default]));
  const wrong = docsRows()
    .filter((r) => declared.has(r.option) && declared.get(r.option) !== r.default)
    .map((r) => `--${r.option}: the docs say '${r.default}', the options '${declared.get(r.option)}'`);
  assert.deepEqual(wrong, [], FIX);
});

test('the option table of docs/usage.md is exactly the one the options write', () => {
  const text = readFileSync(USAGE, 'utf8');
  assert.equal(text, withOptionTable(text), FIX);
});

test('the check reads a table that disagrees as disagreeing (a missing option, a changed default)', () => {
  const table = [OPTIONS_BEGIN, ...optionTableLines(), OPTIONS_END].join('\n');
  assert.deepEqual(tableRows(table), optionRows());
  const withoutBacklog = table
    .split('\n')
    .filter((line) => !line.includes('--socket-backlog'))
    .join('\n');
  assert.ok(!tableRows(withoutBacklog).some((r) => r.option === 'socket-backlog'));
  const slower = table.replace(/(--stop-timeout S.*\| )`10` \|/, '$1`20` |');
  assert.equal(tableRows(slower).find((r) => r.option === 'stop-timeout')?.default, '20');
});

test('the code takes its defaults from the table', () => {
  const seconds = (name: string): number => Number(optionRows().find((r) => r.option === name)!.default);
  assert.equal(DEFAULT_STOP_TIMEOUT_S, seconds('stop-timeout'));
  assert.equal(DEFAULT_HANDOVER_TIMEOUT_S, seconds('handover-timeout'));
  assert.equal(DEFAULT_HEALTH_FAILURES, seconds('health-failures'));
  assert.equal(defaultRestartPolicy.initialDelayMs, seconds('restart-delay') * 1000);
  assert.equal(defaultRestartPolicy.giveUpAfterMs, seconds('give-up-after') * 1000);
  assert.equal(defaultRestartPolicy.mode, optionRows().find((r) => r.option === 'restart')!.default);
});
