// Temporary folders for a test file, searchable by everyone (nginx's www-data must reach sockets
// inside), removed after the file's tests.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A fresh folder under /tmp, mode 0755 (mkdtemp makes 0700, which would lock www-data out). */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  made.push(dir);
  return dir;
}

/** Removes every folder makeTempDir made in this test file. */
export async function cleanupTempDirs(): Promise<void> {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
}
