// The rule that makes reaping other processes' orphans safe (src/supervisor/reaper.ts): sockvisor
// starts nothing through Node's child_process, whose children libuv reaps by pid on SIGCHLD and
// whose exit statuses the reaper would otherwise steal.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/sockvisor.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

test('nothing under src/ uses child_process (sockvisor reaps orphans; children start through the addon only)', () => {
  const offenders = sourceFiles(join(repoRoot, 'src')).filter((file) => /from ['"](node:)?child_process['"]|require\(['"](node:)?child_process['"]\)/.test(readFileSync(file, 'utf8')));
  assert.deepEqual(offenders, []);
});
