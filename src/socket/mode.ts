// Socket file modes as people write them: octal the way chmod(1) reads it, or symbolic.
// A mode is never read as decimal: '660' is 0o660, and '999' is an error, not 0o1747.
import { UsageError } from '../errors.js';

const OCTAL = /^(?:0o)?([0-7]{1,4})$/i;
const CLAUSE = /^([ugoa]*)([=+-])([rwx]*)$/;
const WHO_SHIFT: Record<string, number[]> = { u: [6], g: [3], o: [0], a: [6, 3, 0] };
const PERM_BITS: Record<string, number> = { r: 4, w: 2, x: 1 };

/** '0660' for 0o660: four octal digits, as ls -l users and chmod read them back. */
export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

function parseSymbolic(value: string): number | null {
  let mode = 0;
  for (const clause of value.split(',')) {
    const match = CLAUSE.exec(clause);
    if (!match) return null;
    const [, who = '', op, perms = ''] = match;
    let bits = 0;
    for (const p of perms) bits |= PERM_BITS[p]!;
    let mask = 0;
    let set = 0;
    for (const w of who === '' ? 'a' : who) {
      for (const shift of WHO_SHIFT[w]!) {
        mask |= 7 << shift;
        set |= bits << shift;
      }
    }
    if (op === '=') mode = (mode & ~mask) | set;
    else if (op === '+') mode |= set;
    else mode &= ~set;
  }
  return mode;
}

/** Parses --socket-mode: 0660, 660, 020, 0o660, or u=rw,g=rw (starting from no permission). */
export function parseMode(value: string, option = '--socket-mode'): number {
  const text = value.trim();
  const octal = OCTAL.exec(text);
  if (octal) {
    const mode = Number.parseInt(octal[1]!, 8);
    if (mode > 0o777) {
      throw new UsageError(
        `The mode '${value}' given to ${option} has bits above 0777 (setuid, setgid or sticky), which mean nothing on a socket: give permission bits only, e.g. 0660.`,
      );
    }
    return mode;
  }
  const symbolic = text === '' ? null : parseSymbolic(text);
  if (symbolic !== null) return symbolic;
  throw new UsageError(
    `The mode '${value}' given to ${option} is neither octal (digits 0-7, e.g. 0660 or 660) nor symbolic (e.g. u=rw,g=rw): modes are never read as decimal.`,
  );
}

/**
 * uWSGI's --chmod-socket: bare (or '1') means 0666; otherwise exactly three octal digits
 * (uWSGI 2.0's uwsgi_opt_chmod_socket exits on anything else, and so does sockvisor, with a sentence).
 */
export function parseUwsgiChmod(value: string | true): number {
  if (value === true || value === '' || value === '1') return 0o666;
  if (!/^[0-7]{3}$/.test(value)) {
    throw new UsageError(
      `uWSGI's --chmod-socket=${value} is not a mode uWSGI accepts: give exactly three octal digits, e.g. --chmod-socket=660 (bare --chmod-socket means 666).`,
    );
  }
  return Number.parseInt(value, 8);
}
