// Arguments and SOCKVISOR_* variables as bytes. Node decodes argv and the environment as UTF-8 and
// puts U+FFFD in place of every invalid byte, so a path such as /run/x/a\xff.sock would silently
// become another one: created under a name nginx does not use, or passed on changed to COMMAND.
// The kernel's copy (/proc/self/cmdline, /proc/self/environ) still has the bytes; a U+FFFD that
// was really typed is valid UTF-8 there and passes.
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';

/** The bytes as a reader can see them: printable ASCII kept, every other byte as \xNN. */
export function showBytes(bytes: Uint8Array): string {
  const show = (b: number): string =>
    b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return Array.from(bytes, show).join('');
}

/** The NUL-separated entries of a /proc cmdline or environ file. */
export function splitNul(data: Buffer): Buffer[] {
  const entries: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) {
      entries.push(data.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < data.length) entries.push(data.subarray(start));
  return entries;
}

/**
 * The refusal for the first argument (of the last `count`, those after node and the script) or
 * SOCKVISOR_* variable that is not valid UTF-8; null when all are.
 */
export function invalidInput(cmdline: Buffer, count: number, environ: Buffer): string | null {
  const args = splitNul(cmdline);
  const own = args.slice(Math.max(0, args.length - count));
  for (const [i, arg] of own.entries()) {
    if (!isUtf8(arg)) {
      return (
        `sockvisor: argument ${i + 1} ('${showBytes(arg)}') is not valid UTF-8, and sockvisor could neither use it nor pass it on ` +
        'unchanged: rename the file or folder to a UTF-8 name.'
      );
    }
  }
  for (const entry of splitNul(environ)) {
    if (entry.subarray(0, 10).toString('latin1') !== 'SOCKVISOR_' || isUtf8(entry)) continue;
    const eq = entry.indexOf(0x3d);
    const name = entry.subarray(0, eq < 0 ? entry.length : eq).toString('latin1');
    const value = showBytes(entry.subarray(eq + 1));
    return (
      `sockvisor: the environment variable ${name} ('${value}') is not valid UTF-8, and sockvisor could not use it unchanged: ` +
      'give a UTF-8 value.'
    );
  }
  return null;
}

/** invalidInput for this process, read from /proc/self; null also when /proc cannot be read (nothing to compare with). */
export function checkOwnInput(argCount: number): string | null {
  let cmdline: Buffer;
  let environ: Buffer;
  try {
    cmdline = readFileSync('/proc/self/cmdline');
    environ = readFileSync('/proc/self/environ');
  } catch {
    return null;
  }
  return invalidInput(cmdline, argCount, environ);
}
