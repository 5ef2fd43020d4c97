// The option table of docs/usage.md, written from RUN_OPTIONS so that the docs cannot drift from the
// options: `npm run docs:options` puts it between the markers, test/docs/options.test.ts checks it.
import { describeDefault, RUN_OPTIONS, type OptionDefinition } from './options.js';

export const OPTIONS_BEGIN = '<!-- options:begin (written by `npm run docs:options` from src/config/options.ts; edit it there) -->';
export const OPTIONS_END = '<!-- options:end -->';

/** A Markdown table cell: a | would end the cell. */
const cell = (text: string): string => text.replaceAll('|', '\\|');

/** How the option is written: `-s, --socket [NAME=]PATH|HOST:PORT` (`--chmod-socket`). */
function optionCell(definition: OptionDefinition): string {
  const short = (definition.aliases ?? []).filter((a) => a.length === 1).map((a) => `-${a}, `);
  const long = (definition.aliases ?? []).filter((a) => a.length > 1).map((a) => `--${a}`);
  const { value } = definition;
  const arg = value.type === 'choice' ? value.choices.join('|') : value.type === 'boolean' ? undefined : definition.arg;
  const written = `\`${short.join('')}--${definition.name}${arg === undefined ? '' : ` ${arg}`}\``;
  return cell(long.length > 0 ? `${written} (${long.map((a) => `\`${a}\``).join(', ')})` : written);
}

/** A default as a cell: a value in backticks, words as they are. */
function defaultCell(definition: OptionDefinition): string {
  const text = describeDefault(definition.default);
  return cell(typeof definition.default === 'object' || typeof definition.default === 'boolean' ? text : `\`${text}\``);
}

/** The table's lines, header included, without the markers. */
export function optionTableLines(): string[] {
  return [
    '| option | meaning | default |',
    '|---|---|---|',
    ...RUN_OPTIONS.map((definition) => `| ${optionCell(definition)} | ${cell(definition.describe)} | ${defaultCell(definition)} |`),
  ];
}

/** `text` with the table between the markers replaced by the one the options give; throws when a marker is missing. */
export function withOptionTable(text: string): string {
  const begin = text.indexOf(OPTIONS_BEGIN);
  const end = text.indexOf(OPTIONS_END);
  if (begin < 0 || end < begin) throw new Error(`the markers ${OPTIONS_BEGIN} and ${OPTIONS_END} are missing, or out of order`);
  return `${text.slice(0, begin + OPTIONS_BEGIN.length)}\n${optionTableLines().join('\n')}\n${text.slice(end)}`;
}
