// `npm run build` / `npm run build:ts`, after tsc: dist/src/cli/sockvisor.js (the `sockvisor` bin)
// rewritten as one file holding the CLI, sockvisor's modules and yargs and pino. Node resolves,
// opens and links each ES module of an import graph one by one (about 160 files for a run): that
// was most of sockvisor's start (measured by bench/sections/start-latency.ts). The library (dist/src/index.js)
// and every other file of dist/ stay as tsc wrote them.
//
// Written over tsc's own output on purpose: a later `tsc` alone puts the unbundled entry back, so the
// bin never runs code older than dist/.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'sockvisor.js');
const MARK = '// sockvisor: bundled by scripts/bundle-cli.mjs';

// Loaded at run time from node_modules, as before: the addon loader looks for the .node file
// relative to its own package, and pino-pretty and prom-client are loaded only when asked for
// (--log-format pretty, --metrics) with a require() esbuild does not follow anyway.
const EXTERNAL = ['node-gyp-build', 'pino-pretty', 'prom-client'];

if (readFileSync(entry, 'utf8').includes(MARK)) {
  console.log(`${relative(root, entry)} is bundled already (run tsc to write it anew)`);
  process.exit(0);
}

/**
 * The URL of file, written relative to the bundle's own URL (kept in a constant by the banner: an
 * `import.meta` in a CommonJS file would make esbuild take it for an ES module).
 */
function urlOf(file) {
  let rel = relative(dirname(entry), file);
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return `new URL(${JSON.stringify(rel)}, __sockvisorBundleUrl).href`;
}

// Every module keeps its own location: `import.meta.url` (native.ts finds the package root by it,
// main.ts and control/version.ts read package.json, yargs finds its locales) and the __dirname and
// __filename of CommonJS files become their file's, not the bundle's.
const ownLocation = {
  name: 'own-location',
  setup(b) {
    b.onLoad({ filter: /\.(m?js|cjs)$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      const usesMeta = text.includes('import.meta.url');
      const usesDir = /\b__(dirname|filename)\b/.test(text);
      if (!usesMeta && !usesDir) return undefined;
      if (usesMeta) text = text.replaceAll('import.meta.url', urlOf(args.path));
      if (usesDir && !args.path.endsWith('.mjs') && !/^\s*(import|export)\s/m.test(text)) {
        text =
          `var __filename = require('node:url').fileURLToPath(${urlOf(args.path)}); ` +
          `var __dirname = require('node:path').dirname(__filename);\n${text}`;
      }
      return { contents: text, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

await build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18.19',
  external: EXTERNAL,
  plugins: [ownLocation],
  legalComments: 'inline',
  logLevel: 'warning',
  // The CommonJS dependencies (pino) call require() for Node's modules; an ES module has none of its own.
  banner: {
    js: [
      MARK,
      "import { createRequire as __sockvisorCreateRequire } from 'node:module';",
      'const __sockvisorBundleUrl = import.meta.url;',
      'const require = __sockvisorCreateRequire(__sockvisorBundleUrl);',
    ].join('\n'),
  },
});
