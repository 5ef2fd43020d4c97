// Socket creation's failures after bind(): the permission steps socket/create.ts applies to the
// file the addon bound. A step that fails leaves no socket file and no descriptor behind, and the
// error is the sentence the CLI prints (exit 2).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ExitCode, RunError } from '../../src/errors.js';
import { openFolder, closeFd } from '../../src/native.js';
import { socketAcl } from '../../src/socket/acl.js';
import { createUnixListener } from '../../src/socket/create.js';
import type { SocketPermissions } from '../../src/socket/permissions.js';
import { cleanupTempDirs, mountRamfs } from '../helpers/tmp.js';

const ramfs = await mountRamfs();
after(cleanupTempDirs);

const openFds = (): number => readdirSync('/proc/self/fd').length;

test(
  ramfs
    ? 'an ACL that cannot be set (ramfs: EOPNOTSUPP) fails with the sentence naming the file system; no file, no descriptor left'
    : 'ACL refused (skipped: no ramfs mount here)',
  { skip: ramfs === null },
  () => {
    const path = join(ramfs!, 'app.sock');
    const allow = [{ uid: 33, name: 'www-data' }];
    const permissions: SocketPermissions = {
      mode: 0o600,
      uid: 0,
      gid: 0,
      owner: 'root',
      group: 'root',
      allow,
      acl: socketAcl(0o600, allow),
    };
    const folder = openFolder(null, ramfs!);
    const before = openFds();
    try {
      assert.throws(
        () => createUnixListener({ kind: 'unix', name: 'app', path }, permissions, 8, { folder, links: new Map() }),
        (e: unknown) =>
          e instanceof RunError && e.exitCode === ExitCode.usage && /has no POSIX ACL support.*--socket-allow/.test(e.message),
      );
      assert.deepEqual(readdirSync(ramfs!), [], 'the half-made socket was left');
      assert.equal(openFds(), before, 'a descriptor of the half-made socket was left open');
    } finally {
      closeFd(folder);
    }
  },
);
