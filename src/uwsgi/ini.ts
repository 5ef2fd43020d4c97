// Reading uWSGI ini files the way uWSGI 2.0 does (core/ini.c, config_magic_table_fill in
// core/uwsgi.c), so that sockvisor learns which sockets a `uwsgi --ini app.ini` will want:
// - `--ini FILE` reads the [uwsgi] section, `--ini FILE:NAME` the [NAME] section (the last colon
//   separates it), `--ini :NAME` another section of the file read last;
// - the whole line is stripped of spaces, tabs and CRs; lines starting with ; or # are comments
//   (there are no comments after a value); `key = value` splits at the first '='; a key without
//   '=' has the empty value; keys may repeat, and are kept as written (uWSGI 2.0.21 ignores
//   `http_socket`: only environment variables turn _ into -);
// - magic variables are replaced when the file is read: %d (the file's folder, with a trailing
//   /), %p, %s, %n, %e, %c, %x, %o, %0-%9, their upper-case first-file forms, and %%; any other
//   % letter disappears in uWSGI, and is reported here as unreadable;
// - `ini = FILE` (and `include = FILE.ini`) inside a file reads that file at that point, with its
//   own magic variables; paths are relative to uWSGI's working folder, as open() sees them.
// References (%(option)), $(ENV) and @(file) are resolved later, over all options (config.ts).
import { isUtf8 } from 'node:buffer';
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** One `key = value` line of the section read, magic variables replaced. */
export interface IniOption {
  key: string;
  value: string;
  file: string;
  line: number;
  /** magic variables on this line that sockvisor does not read (uWSGI replaced them by something) */
  unreadable: string[];
  /** inside an if-.../for block: whether uWSGI applies it depends on what sockvisor does not evaluate */
  conditional: boolean;
  /** the line's bytes are not UTF-8: its value, as read here, has U+FFFD where uWSGI sees other bytes */
  notUtf8?: boolean;
}

/** Where an ini is read from, and the options that come with it. */
export interface IniReadContext {
  /** uWSGI's working folder: relative paths are opened from here */
  cwd: string;
  /** the file read last, for `:section` (uWSGI's last_file) */
  lastFile?: string | undefined;
  /** upper-case magic variables: those of the first config file uWSGI read */
  firstTable?: MagicTable | undefined;
  /** files being read, to refuse an include loop (uWSGI would recurse until it crashes) */
  stack?: string[];
}

type MagicTable = Record<string, string>;

const MAGIC_FILE_LETTERS = 'opsdncex0123456789';
/** uWSGI's config logic (core/config.c): one block at a time, opened by for... or if-..., closed by end... */
const LOGIC_OPEN = /^(?:for(?:-[a-z]+)?|if-[a-z-]+|if(?:not)?(?:env|exists|file|dir|opt))$/;
const LOGIC_CLOSE = new Set(['end', 'endfor', 'endif', 'end-if', 'end-for']);
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Splits `FILE[:SECTION]` at the last colon, as uWSGI does; an empty section means [uwsgi]. */
export function splitIniSection(arg: string): { file: string; section: string } {
  const colon = arg.lastIndexOf(':');
  if (colon < 0) return { file: arg, section: 'uwsgi' };
  const section = arg.slice(colon + 1);
  return { file: arg.slice(0, colon), section: section === '' ? 'uwsgi' : section };
}

/**
 * The magic table of config_magic_table_fill: %p is the real path, except for a symlink, whose own
 * path is kept (made absolute from the working folder); %d is %p's folder with its trailing slash.
 */
function magicTable(file: string, section: string, cwd: string): MagicTable {
  let full: string;
  let isLink = false;
  try {
    isLink = lstatSync(resolve(cwd, file)).isSymbolicLink();
  } catch {
    // read errors are reported by the caller
  }
  if (isLink) full = file.startsWith('/') ? file : `${cwd}/${file}`;
  else full = realpathSync(resolve(cwd, file));
  const s = full.slice(full.lastIndexOf('/') + 1);
  const d = full.slice(0, full.length - s.length);
  const table: MagicTable = { o: file, p: full, s, d, x: section };
  const dir = d.endsWith('/') ? d.slice(0, -1) : d;
  table.c = dir.slice(dir.lastIndexOf('/') + 1);
  const parts = dir.split('/').filter(Boolean);
  for (let i = 0; i <= 9; i++) table[String(i)] = parts[i] ?? '';
  const dot = file.lastIndexOf('.');
  table.e = dot >= 0 ? file.slice(dot + 1) : '';
  const sdot = s.lastIndexOf('.');
  table.n = sdot >= 0 ? s.slice(0, sdot) : s;
  return table;
}

/** Replaces magic variables in one line; unknown letters vanish, as in uWSGI, and are reported. */
function replaceMagic(line: string, table: MagicTable, first: MagicTable): { text: string; unreadable: string[] } {
  let text = '';
  const unreadable: string[] = [];
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch !== '%' || i === line.length - 1) {
      text += ch;
      continue;
    }
    const next = line[++i]!;
    if (next === '%') text += '%';
    else if (next === '(')
      text += '%('; // a reference, resolved later over all options
    else if (MAGIC_FILE_LETTERS.includes(next)) text += table[next] ?? '';
    else if (MAGIC_FILE_LETTERS.toUpperCase().includes(next) && /[A-Z]/.test(next)) text += first[next.toLowerCase()] ?? '';
    else unreadable.push(`%${next}`);
  }
  return { text, unreadable };
}

/** The options of one section of an ini file, includes read in place. Throws UsageError for what uWSGI could not read either. */
export function readIniFile(arg: string, context: IniReadContext, sink: IniOption[] = []): IniOption[] {
  if (SCHEME.test(arg) || arg === '-') {
    throw new UsageError(
      `uWSGI's --ini ${arg} reads its configuration from somewhere other than a file, which sockvisor cannot read before uWSGI starts: save it to a file and give that, or give the socket with -s and --socket fd://3.`,
    );
  }
  const split = splitIniSection(arg);
  const file = split.file === '' ? context.lastFile : split.file;
  if (file === undefined) throw new UsageError(`uWSGI's --ini ${arg} names a section of no file: put the file name before the colon.`);
  const path = resolve(context.cwd, file);
  const stack = context.stack ?? [];
  if (stack.includes(`${path}:${split.section}`)) {
    throw new UsageError(`The ini file '${path}' includes itself (through ${stack.join(' -> ')}): remove the loop.`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `Cannot read uWSGI's configuration file '${path}' (${code}): check the path given to --ini, and that sockvisor's user may read it.`,
      { cause: error },
    );
  }
  const table = magicTable(file, arg.includes(':') ? arg.slice(arg.lastIndexOf(':') + 1) : '', context.cwd);
  const first = context.firstTable ?? table;
  context.firstTable = first;
  context.lastFile = file;
  const inner: IniReadContext = { ...context, stack: [...stack, `${path}:${split.section}`] };

  let section = '';
  let conditional = false;
  // uWSGI reads bytes: a comment in Latin-1 is harmless, a path is not (checked where sockets are read).
  const text = bytes.toString('utf8');
  const notUtf8 = new Set<number>();
  if (!isUtf8(bytes)) {
    let start = 0;
    for (let n = 0; start <= bytes.length; n++) {
      const end = bytes.indexOf(0x0a, start);
      if (!isUtf8(bytes.subarray(start, end < 0 ? bytes.length : end))) notUtf8.add(n);
      if (end < 0) break;
      start = end + 1;
    }
  }
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const { text: line, unreadable } = replaceMagic(lines[n]!, table, first);
    const stripped = line.replace(/^[ \t\r]+/, '').replace(/[ \t\r]+$/, '');
    if (stripped === '' || stripped.startsWith(';') || stripped.startsWith('#')) continue;
    if (stripped.startsWith('[')) {
      section = stripped.slice(1, -1);
      continue;
    }
    if (section !== split.section) continue;
    const eq = stripped.indexOf('=');
    const key = (eq < 0 ? stripped : stripped.slice(0, eq)).replace(/[ \t\r]+$/, '');
    const value = eq < 0 ? '' : stripped.slice(eq + 1).replace(/^[ \t\r]+/, '');
    if (LOGIC_CLOSE.has(key)) conditional = false;
    const bytesOk = notUtf8.has(n) ? { notUtf8: true } : {};
    sink.push({ key, value, file: path, line: n + 1, unreadable, conditional, ...bytesOk });
    if (LOGIC_OPEN.test(key)) conditional = true;
    // An include inside a block is left to uWSGI: config.ts refuses sockets it cannot see.
    if (!conditional && (key === 'ini' || (key === 'include' && extname(splitIniSection(value).file) === '.ini'))) {
      readIniFile(value, inner, sink);
      context.lastFile = inner.lastFile;
    }
  }
  return sink;
}

/** `app.ini` for messages: the file's name, or its path when the name alone would be ambiguous. */
export function iniLabel(option: { file: string; line: number }): string {
  return `${basename(option.file)} line ${option.line}`;
}
