// Real unprivileged users for tests, made with useradd and removed with userdel.
import { execFileSync } from 'node:child_process';
import { lookupUser } from '../../src/native.js';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

let counter = 0;

/** Creates a user with a group of its own, no home and no login shell. */
export function createTestUser(prefix = 'svt'): TestUser {
  const name = `${prefix}${process.pid}x${counter++}`;
  execFileSync('useradd', ['--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', name], { stdio: 'inherit' });
  const user = lookupUser(name);
  if (!user) throw new Error(`useradd ${name} did not create the user`);
  return { name, uid: user.uid, gid: user.gid };
}

/** Removes a user made by createTestUser (and its group). */
export function removeTestUser(user: TestUser | undefined): void {
  if (!user) return;
  try {
    execFileSync('userdel', [user.name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}
