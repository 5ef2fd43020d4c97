// The addon's inotify watch on a folder (native/folder_watch.cc): what a socket file can go through
// is reported by name, the folder's own removal without one, and writes to a file next to it not at all.
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdirSync, renameSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { watchFolder } from '../../src/native.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-watch-');
});
after(cleanupTempDirs);

/** Runs change() and collects the names the watch reports in the next 50 ms. */
async function reported(folder: string, change: () => void): Promise<(string | null)[]> {
  const names: (string | null)[] = [];
  const watch = watchFolder(folder, (batch) => names.push(...batch));
  try {
    change();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    watch.close();
  }
  return names;
}

test('create, chmod, rename and remove are reported by name; 1,000 writes to a file next to it are not reported at all', async () => {
  const folder = join(dir, 'a');
  mkdirSync(folder);
  writeFileSync(join(folder, 'app.log'), '');
  assert.deepEqual(
    await reported(folder, () => {
      for (let i = 0; i < 1000; i++) appendFileSync(join(folder, 'app.log'), 'a request\n');
    }),
    [],
  );
  assert.deepEqual(await reported(folder, () => writeFileSync(join(folder, 'x'), '')), ['x']);
  assert.deepEqual(await reported(folder, () => chmodSync(join(folder, 'x'), 0o600)), ['x']);
  assert.deepEqual(await reported(folder, () => renameSync(join(folder, 'x'), join(folder, 'y'))), ['x', 'y']);
  assert.deepEqual(await reported(folder, () => unlinkSync(join(folder, 'y'))), ['y']);
});

test('the folder itself removed: reported without a name; a missing folder cannot be watched (ENOENT)', async () => {
  const folder = join(dir, 'b');
  mkdirSync(folder);
  const names = await reported(folder, () => rmdirSync(folder));
  assert.ok(names.includes(null), `got ${JSON.stringify(names)}`);
  assert.throws(() => watchFolder(folder, () => {}), { code: 'ENOENT', syscall: 'inotify_add_watch', path: folder });
});

test('paused: 10,000 chmods wake nothing; resumed: one call, queued and merged by the kernel; closed paused: fine', async () => {
  const folder = join(dir, 'c');
  mkdirSync(folder);
  writeFileSync(join(folder, 'app.sock'), '');
  const calls: (string | null)[][] = [];
  const watch = watchFolder(folder, (batch) => calls.push(batch));
  try {
    watch.pause();
    for (let i = 0; i < 10000; i++) chmodSync(join(folder, 'app.sock'), i % 2 ? 0o600 : 0o644);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls.length, 0, 'a paused watch called back');
    watch.resume();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls.length, 1);
    // Identical events in a row are merged by the kernel: far fewer than 10,000 names.
    assert.ok(calls[0]!.length >= 1 && calls[0]!.every((name) => name === 'app.sock'), `got ${calls[0]!.length} names`);
    assert.ok(calls[0]!.length < 10000, `${calls[0]!.length} names for 10,000 chmods`);
    writeFileSync(join(folder, 'next'), '');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(calls[1], ['next']);
    watch.pause();
  } finally {
    watch.close();
  }
  // pause and resume after close do nothing.
  watch.pause();
  watch.resume();
});
