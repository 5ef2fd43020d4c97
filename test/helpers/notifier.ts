// test/fixtures/notifier.py: a child that speaks sd_notify, steered by a control file per start.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './sockvisor.js';

export const NOTIFIER = join(repoRoot, 'test', 'fixtures', 'notifier.py');

/** COMMAND for sockvisor: the notifier reading its mode from control. */
export function notifierCommand(control: string): string[] {
  // Debian's python3: a version manager's shim on PATH can take a second to start.
  return ['/usr/bin/python3', NOTIFIER, control];
}

/** What the next start of the notifier does: ready, slow:S, hang, exit, wait:PATH. */
export function setNotifierMode(control: string, mode: string): void {
  writeFileSync(control, `${mode}\n`);
}
