// Temporary folders for a test file, searchable by everyone (nginx's www-data must reach sockets
// inside), removed after the file's tests.
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
const mounts: string[] = [];

/** A fresh folder under /tmp, mode 0755 (mkdtemp makes 0700, which would lock www-data out). */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  made.push(dir);
  return dir;
}

/**
 * A fresh ramfs (a file system without POSIX ACL support) mounted on a temporary folder, or null
 * when this machine does not let us mount (no CAP_SYS_ADMIN). Unmounted by cleanupTempDirs.
 */
export async function mountRamfs(): Promise<string | null> {
  const dir = await makeTempDir('sockvisor-ramfs-');
  try {
    execFileSync('mount', ['-t', 'ramfs', '-o', 'mode=0755', 'sockvisor-test', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  mounts.push(dir);
  return dir;
}

/**
 * A fresh tmpfs mounted on a temporary folder with `options` (`nr_inodes=16,size=1m`: a file
 * system that runs out of inodes), or null when this machine does not let us mount. Unmounted by
 * cleanupTempDirs.
 */
export async function mountTmpfs(options: string): Promise<string | null> {
  const dir = await makeTempDir('sockvisor-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `mode=0755,${options}`, 'sockvisor-test', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  mounts.push(dir);
  return dir;
}

/** Unmounts what mountRamfs and mountTmpfs mounted, then removes every folder makeTempDir made in this test file. */
export async function cleanupTempDirs(): Promise<void> {
  for (const dir of mounts.splice(0)) execFileSync('umount', [dir]);
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
}
