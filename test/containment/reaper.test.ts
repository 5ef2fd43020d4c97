// The rule that makes reaping other processes' orphans safe (src/containment/reaper.ts): sockvisor
// starts nothing through Node's child_process, whose children libuv reaps by pid on SIGCHLD and
// whose exit statuses the reaper would otherwise steal.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/sockvisor.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/**
 * The only modules that may use child_process, each because it never runs while the reaper does:
 * nginx's setup is read for doctor, a command of its own (it never supervises), and uWSGI's
 * configuration is confirmed with `uwsgi --get` (spawnSync, which reaps its child itself before
 * returning) while the options are checked, before any socket or child exists.
 */
const ALLOWED = ['src/nginx/setup.ts', 'src/uwsgi/config.ts'];

test('nothing under src/ that runs during supervision uses child_process (sockvisor reaps orphans; children start through the addon only)', () => {
  const users = sourceFiles(join(repoRoot, 'src'))
    .filter((file) => /from ['"](node:)?child_process['"]|require\(['"](node:)?child_process['"]\)/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(repoRoot, file));
  assert.deepEqual(
    users.filter((file) => !ALLOWED.includes(file)),
    [],
  );
  // The exceptions stay out of the supervising code: nothing under src/supervisor, src/containment or src/run.ts imports them.
  const supervising = [
    ...sourceFiles(join(repoRoot, 'src', 'supervisor')),
    ...sourceFiles(join(repoRoot, 'src', 'containment')),
    join(repoRoot, 'src', 'run.ts'),
  ];
  for (const file of supervising) {
    assert.doesNotMatch(readFileSync(file, 'utf8'), /from ['"][./]+(nginx\/setup|uwsgi\/config)\.js['"]/, relative(repoRoot, file));
  }
});
