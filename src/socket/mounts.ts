// Which file system a path lives on, from /proc/self/mountinfo (what findmnt -T reads): for
// error sentences such as "the file system of '/mnt/x' (ramfs) has no POSIX ACL support".
import { readFileSync, realpathSync } from 'node:fs';

/** Unescapes mountinfo's octal escapes (\040 for a space). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** The file system type of the mount that holds path (e.g. 'ext4', 'tmpfs', 'ramfs'), or null when unknown. */
export function fileSystemOf(path: string): string | null {
  let real: string;
  let text: string;
  try {
    real = realpathSync(path);
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  let best: { point: string; type: string } | null = null;
  for (const line of text.split('\n')) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 0 || fields.length < dash + 2) continue;
    const point = unescape(fields[4]!);
    const inside = point === '/' || real === point || real.startsWith(`${point}/`);
    // The last mount on the longest prefix wins: later lines are mounted over earlier ones.
    if (inside && (!best || point.length >= best.point.length)) best = { point, type: fields[dash + 1]! };
  }
  return best?.type ?? null;
}
