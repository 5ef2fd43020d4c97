// The folder policy (socket/folder.ts) on a real file system: a folder is reached component by
// component, through the symlinks it had at start and no others; missing folders are made 0755
// whatever the umask, and removed on stop only while they are the ones made; no descriptor is left.
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { closeFd } from '../../src/native.js';
import { NewLinkError, openFolderPath, removeMadeDirs, type FolderLinks, type MadeDir } from '../../src/socket/folder.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-folder-');
});
after(cleanupTempDirs);

const openFds = (): number => readdirSync('/proc/self/fd').length;

test("the layout's symlinks at start are followed later; one that appears or changes later is refused, nothing made through it", () => {
  mkdirSync(join(dir, 'real', 'app'), { recursive: true });
  symlinkSync('real', join(dir, 'layout'));
  const links: FolderLinks = new Map();
  closeFd(openFolderPath(join(dir, 'layout', 'app'), links, { record: true }));
  assert.deepEqual([...links], [[join(dir, 'layout'), 'real']]);
  // Later, the same link: followed.
  closeFd(openFolderPath(join(dir, 'layout', 'app'), links));

  // The folder swapped for a symlink to somewhere else: refused, nothing made there.
  mkdirSync(join(dir, 'victim'));
  chmodSync(join(dir, 'victim'), 0o700);
  renameSync(join(dir, 'real', 'app'), join(dir, 'real', 'app.old'));
  symlinkSync(join(dir, 'victim'), join(dir, 'real', 'app'));
  const made: MadeDir[] = [];
  assert.throws(
    () => openFolderPath(join(dir, 'layout', 'app'), links, { made }),
    (error: unknown) => {
      assert.ok(error instanceof NewLinkError);
      assert.equal(error.link, join(dir, 'real', 'app'));
      return true;
    },
  );
  assert.deepEqual(made, []);
  assert.equal(statSync(join(dir, 'victim')).mode & 0o7777, 0o700);

  // The layout's link pointed elsewhere: refused too.
  unlinkSync(join(dir, 'layout'));
  symlinkSync('victim', join(dir, 'layout'));
  assert.throws(() => openFolderPath(join(dir, 'layout', 'app'), links), NewLinkError);
});

test('missing folders of the path are made 0755 whatever the umask, outermost first; inside a link target nothing is made', () => {
  const old = process.umask(0o077);
  const made: MadeDir[] = [];
  try {
    closeFd(openFolderPath(join(dir, 'a', 'b', 'c'), new Map(), { record: true, made }));
  } finally {
    process.umask(old);
  }
  assert.deepEqual(
    made.map((d) => d.path),
    [join(dir, 'a'), join(dir, 'a', 'b'), join(dir, 'a', 'b', 'c')],
  );
  for (const d of made) {
    const st = statSync(d.path, { bigint: true });
    assert.deepEqual([Number(st.mode & 0o7777n), st.ino], [0o755, d.ino]);
  }
  // A dangling link of the layout: its target is not made.
  symlinkSync(join(dir, 'nowhere', 'x'), join(dir, 'dangling'));
  const links: FolderLinks = new Map();
  const none: MadeDir[] = [];
  assert.throws(() => openFolderPath(join(dir, 'dangling', 'app'), links, { record: true, made: none }), { code: 'ENOENT' });
  assert.deepEqual(none, []);
  assert.equal(lstatSync(join(dir, 'nowhere'), { throwIfNoEntry: false }), undefined);

  // Removed on stop innermost first, stopping at one that is another folder now.
  // (made while the old one still exists, so that its inode number cannot be the old one's)
  renameSync(join(dir, 'a', 'b', 'c'), join(dir, 'c.old'));
  mkdirSync(join(dir, 'a', 'b', 'c'));
  rmSync(join(dir, 'c.old'), { recursive: true });
  removeMadeDirs(made, new Map());
  assert.ok(statSync(join(dir, 'a', 'b', 'c')).isDirectory(), 'a folder sockvisor did not make was removed');
  rmSync(join(dir, 'a', 'b', 'c'), { recursive: true });
  removeMadeDirs(made, new Map());
  assert.equal(lstatSync(join(dir, 'a'), { throwIfNoEntry: false }), undefined);
});

test('a file on the way is ENOTDIR; hundreds of walks, makes and removals leave no descriptor open', () => {
  writeFileSync(join(dir, 'plain'), 'x');
  assert.throws(() => openFolderPath(join(dir, 'plain', 'app'), new Map(), { made: [] }), { code: 'ENOTDIR' });
  symlinkSync('.', join(dir, 'self'));
  const links: FolderLinks = new Map();
  closeFd(openFolderPath(join(dir, 'self', 'self'), links, { record: true }));
  const before = openFds();
  for (let i = 0; i < 300; i++) {
    const made: MadeDir[] = [];
    closeFd(openFolderPath(join(dir, 'self', 'self', 'loop', 'in'), links, { made }));
    assert.throws(() => openFolderPath(join(dir, 'plain', 'x'), links, { made: [] }), { code: 'ENOTDIR' });
    removeMadeDirs(made, links);
  }
  assert.equal(openFds(), before);
  assert.equal(lstatSync(join(dir, 'loop'), { throwIfNoEntry: false }), undefined);
});
