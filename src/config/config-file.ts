// sockvisor's own config file (--config FILE): TOML (FILE.toml, the format for people: comments,
// strings and numbers told apart) or JSON (FILE.json). Its keys are the long option names of the
// command line, plus `command`; anything else, and any value of the wrong type, is refused with
// the key and the file named, before anything is created.
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { UsageError } from '../errors.js';
import { findOption, RUN_OPTIONS, type OptionDefinition, type SockvisorOptions } from './options.js';

export interface ConfigFile {
  path: string;
  options: SockvisorOptions;
  /** COMMAND and ARGS, when the file gives them */
  command?: string[] | undefined;
}

/** How a value reads in a sentence: the string "0660", the number 432, a list. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  return value === null ? 'null' : 'a table';
}

function wrongType(path: string, key: string, expected: string, value: unknown): UsageError {
  return new UsageError(`In ${path}, ${key} must be ${expected}, not ${describeValue(value)}: fix the value, or remove the line.`);
}

function checkValue(path: string, key: string, option: OptionDefinition, value: unknown): unknown {
  switch (option.value.type) {
    case 'string':
      if (typeof value === 'string') return value;
      throw wrongType(
        path,
        key,
        option.name === 'socket-mode' ? 'a string such as "0660" (quoted: an unquoted 0660 is no TOML number)' : 'a string',
        value,
      );
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      throw wrongType(path, key, 'a number (unquoted)', value);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      throw wrongType(path, key, 'true or false (unquoted)', value);
    case 'strings':
      if (typeof value === 'string') return [value];
      if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return value;
      throw wrongType(path, key, 'a string or a list of strings', value);
    case 'choice':
      if (typeof value === 'string' && option.value.choices.includes(value)) return value;
      throw wrongType(path, key, `one of ${option.value.choices.map((c) => JSON.stringify(c)).join(', ')}`, value);
  }
}

function parseText(path: string, text: string): Record<string, unknown> {
  const ext = extname(path);
  try {
    const parsed: unknown = ext === '.json' ? JSON.parse(text) : parseToml(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the file is not a table of options');
    return parsed as Record<string, unknown>;
  } catch (error) {
    const what = ext === '.json' ? 'JSON' : 'TOML';
    const detail = (error as Error).message.split('\n')[0];
    throw new UsageError(
      `${path} is not valid ${what} (${detail}): fix it; see the example in sockvisor's docs/usage.md, 'A config file'.`,
      { cause: error },
    );
  }
}

/** Reads and checks a config file; relative paths in it are read later from the working folder, like on the command line. */
export function readConfigFile(file: string, cwd: string): ConfigFile {
  const path = resolve(cwd, file);
  if (!['.toml', '.json'].includes(extname(path))) {
    throw new UsageError(`The config file '${path}' must be named *.toml (or *.json): sockvisor tells the format by the extension.`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UsageError(
      `Cannot read the config file '${path}' (${(error as NodeJS.ErrnoException).code}): check the path given to --config.`,
      { cause: error },
    );
  }
  // TOML and JSON are UTF-8: decoding anything else would change paths in silence (U+FFFD).
  if (!isUtf8(bytes)) {
    throw new UsageError(
      `The config file '${path}' is not valid UTF-8, so its paths cannot be read as written: save it as UTF-8, with UTF-8 file names.`,
    );
  }
  const text = bytes.toString('utf8');
  const raw = parseText(path, text);
  const result: ConfigFile = { path, options: {} };
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'command') {
      if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v !== '')) {
        throw wrongType(path, key, 'a list of strings, COMMAND then its ARGS, e.g. ["uwsgi", "--ini", "app.ini"]', value);
      }
      result.command = value as string[];
      continue;
    }
    const option = findOption(key);
    if (!option) {
      const known = RUN_OPTIONS.map((o) => o.name).join(', ');
      throw new UsageError(`In ${path}, '${key}' is not an option of sockvisor: use one of ${known}, or command.`);
    }
    if ((result.options as Record<string, unknown>)[option.key] !== undefined) {
      throw new UsageError(`In ${path}, ${option.name} is given twice (also as ${key}): keep one.`);
    }
    (result.options as Record<string, unknown>)[option.key] = checkValue(path, key, option, value);
  }
  return result;
}
