// `npm run docs:options`: writes the option table of docs/usage.md from src/config/options.ts (through
// the compiled dist/, which `npm run docs:options` builds first).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withOptionTable } from '../dist/src/config/option-docs.js';

const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'usage.md');
const before = readFileSync(file, 'utf8');
const after = withOptionTable(before);
if (after !== before) writeFileSync(file, after);
process.stdout.write(`${file}: ${after === before ? 'the option table was up to date' : 'option table written'}\n`);
