// The docs and the comments that cite them stay honest as code moves: every source path the docs
// name exists, every Markdown link between them resolves, and every comment that points at a doc
// section names a file and a heading that exist. Pure file reads, no root needed.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// dist/test/docs/links.test.js -> the repository.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The Markdown files of the repository's documentation. */
function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name));
  return ['README.md', ...docs];
}

/** Every source file below the given folders (what comments are written in). */
function sourceFiles(folders: string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(?:ts|mts|mjs|cc|h)$/.test(entry.name)) files.push(path);
    }
  };
  for (const folder of folders) if (existsSync(join(ROOT, folder))) walk(folder);
  return files;
}

/** The headings of a Markdown file, as written (without the #s), also without backticks. */
function headings(file: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const match = fenced ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!match) continue;
    found.add(match[1]!);
    found.add(match[1]!.replaceAll('`', ''));
  }
  return found;
}

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length;

test('every src/, native/, test/, bench/, examples/ and scripts/ path the docs name exists', () => {
  const missing: string[] = [];
  let checked = 0;
  for (const doc of docFiles()) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    // Not preceded by a path character: `dist/bench/soak.js` is build output, not a source path.
    for (const match of text.matchAll(/(?<![\w./-])((?:src|native|test|bench|examples|scripts)\/[\w./-]*)/g)) {
      const path = match[1]!.replace(/[.,]+$/, '');
      checked++;
      if (!existsSync(join(ROOT, path))) missing.push(`${doc}:${lineOf(text, match.index)}: ${path}`);
    }
  }
  assert.ok(checked > 50, `only ${checked} paths found in the docs: is the pattern still right?`);
  assert.deepEqual(missing, [], 'paths named in the docs that do not exist');
});

test('every relative Markdown link in the docs leads to a file of the repository', () => {
  const broken: string[] = [];
  for (const doc of docFiles()) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1]!.split('#')[0]!;
      if (target === '' || /^[a-z]+:/.test(target)) continue;
      if (!existsSync(join(ROOT, dirname(doc), target))) broken.push(`${doc}:${lineOf(text, match.index)}: ${match[1]}`);
    }
  }
  assert.deepEqual(broken, [], 'links that lead nowhere');
});

test("every comment's reference to a doc section names an existing file and heading", () => {
  const problems: string[] = [];
  let checked = 0;
  const known = new Map<string, Set<string>>();
  for (const file of sourceFiles(['src', 'native', 'test', 'bench', 'scripts'])) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const match of text.matchAll(/\b(README\.md|docs\/[\w.-]+\.md),\s*'([^'\n]+)'/g)) {
      const [, doc, heading] = match as unknown as [string, string, string];
      checked++;
      const where = `${file}:${lineOf(text, match.index)}`;
      if (!existsSync(join(ROOT, doc)) || !statSync(join(ROOT, doc)).isFile()) {
        problems.push(`${where}: ${doc} does not exist`);
        continue;
      }
      if (!known.has(doc)) known.set(doc, headings(doc));
      if (!known.get(doc)!.has(heading)) problems.push(`${where}: ${doc} has no heading '${heading}'`);
    }
  }
  assert.ok(checked >= 10, `only ${checked} references to doc sections found: is the pattern still right?`);
  assert.deepEqual(problems, [], 'comments that point at a section that is not there');
});

test('comments cite docs that are in the repository, and none of the notes kept outside it', () => {
  const outside: string[] = [];
  for (const file of sourceFiles(['src', 'native', 'test', 'bench', 'scripts'])) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    // The project's shared notes (FACTS, DESIGN) are not shipped: what the code relies on is in docs/design-notes.md.
    for (const match of text.matchAll(/\b(?:FACTS|DESIGN)\.md\b/g)) outside.push(`${file}:${lineOf(text, match.index)}: ${match[0]}`);
    for (const match of text.matchAll(/(?<![\w./-])docs\/[\w.-]+\.md\b/g)) {
      if (!existsSync(join(ROOT, match[0]))) outside.push(`${file}:${lineOf(text, match.index)}: ${match[0]}`);
    }
  }
  assert.deepEqual(outside, [], 'citations of files that are not in this repository');
});
