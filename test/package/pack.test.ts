// The package as a user gets it: `npm pack`, then `npm install` of the tarball into an empty
// folder (from the npm cache the checkout's `npm ci` filled), then the installed sockvisor runs.
// The addon comes prebuilt inside the package; --build-from-source shows the fallback build.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
let dir: string;
let tarball: string;

before(async () => {
  dir = await makeTempDir('sockvisor-pack-');
  // A copy of the package's sources, so that the checkout's build/ stays as it is: prebuildify
  // moves the addon it builds out of build/Release into prebuilds/.
  const copy = join(dir, 'checkout');
  mkdirSync(copy);
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'binding.gyp', 'README.md', 'src', 'native', 'scripts'])
    cpSync(join(repoRoot, entry), join(copy, entry), { recursive: true });
  // A copy, not a link: npm pack bundles the production dependencies from it (bundleDependencies),
  // and packs nothing from a node_modules that is a symbolic link.
  cpSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  // prepack compiles the TypeScript and the prebuilt addon (prebuildify) into the package.
  const out = execFileSync('npm', ['pack', '--pack-destination', dir], { cwd: copy, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  tarball = join(dir, out.trim().split('\n').pop()!);
});
after(cleanupTempDirs);

/** npm install TARBALL into a new folder; returns the folder. */
function installInto(name: string, extra: string[] = []): string {
  const app = join(dir, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  execFileSync('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', ...extra], {
    cwd: app,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return app;
}

/** The installed CLI holds a socket and runs a real COMMAND on it. */
function runsForReal(app: string): void {
  const bin = join(app, 'node_modules', '.bin', 'sockvisor');
  assert.equal(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim(), version);
  const path = join(app, 'run.sock');
  const result = spawnSync(
    bin,
    [
      '--log-format',
      'json',
      '--log-level',
      'debug',
      '-s',
      path,
      '--restart',
      'never',
      '--',
      'sh',
      '-c',
      `test -S ${path} && echo "LISTEN_FDS=$LISTEN_FDS"`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, 'LISTEN_FDS=1\n');
  // sockvisor-guard ships with the addon: children that drop privileges still die with sockvisor.
  const events = result.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { event?: string }).event);
  assert.ok(events.includes('guard.started'), `sockvisor-guard did not start: ${result.stderr}`);
  assert.equal(existsSync(path), false, 'the socket was not removed on exit');
}

test('the tarball holds the compiled library, its types, the prebuilt addon, the sources to rebuild it and the dependencies, and no tests', () => {
  const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n');
  for (const file of [
    'package/dist/src/index.js',
    'package/dist/src/index.d.ts',
    'package/dist/src/cli/sockvisor.js',
    'package/prebuilds/linux-x64/sockvisor.node',
    'package/prebuilds/linux-x64/sockvisor-guard',
    'package/binding.gyp',
    'package/native/tcp.cc',
    'package/node_modules/yargs/package.json',
  ]) {
    assert.ok(files.includes(file), `${file} is missing from the package`);
  }
  // The bundled dependencies (package/node_modules) have builds and tests of their own.
  assert.deepEqual(
    files.filter((f) => !f.startsWith('package/node_modules/') && /\/(test|build|src\/[^/]+\.ts$)/.test(f) && !f.endsWith('.d.ts')),
    [],
  );
});

test('installed into an empty folder, it runs on the prebuilt addon: --version, a real run, and the library import', () => {
  const app = installInto('app');
  assert.equal(existsSync(join(app, 'node_modules', 'sockvisor', 'build')), false, 'the addon was compiled although a prebuilt one fits');
  runsForReal(app);
  const script = `import { createUnixSocket } from 'sockvisor'; const s = createUnixSocket({ path: 'lib.sock', mode: '0600' }); console.log(s.mode); s.close();`;
  assert.equal(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' }), '0600\n');
});

test('with --build-from-source the install compiles the addon (the fallback when no prebuilt one fits) and it runs', () => {
  const app = installInto('app-built', ['--build-from-source']);
  assert.ok(existsSync(join(app, 'node_modules', 'sockvisor', 'build', 'Release', 'sockvisor.node')), 'no addon was built');
  runsForReal(app);
});

test('a global install gets exactly the dependency versions of package-lock.json, the ones the tests ran with (they are bundled)', () => {
  const prefix = join(dir, 'global');
  execFileSync('npm', ['install', '--global', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; dev?: boolean }>;
  };
  const pkgRoot = join(prefix, 'lib', 'node_modules', 'sockvisor');
  const expected = Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && entry.dev !== true)
    .map(([path, entry]) => `${path} ${entry.version}`);
  const installed = execFileSync('find', ['node_modules', '-name', 'package.json', '-path', '*node_modules/*'], {
    cwd: pkgRoot,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((file) => file.slice(0, -'/package.json'.length))
    // package.json files inside a package's own folders (tests, fixtures) are no installed package
    .filter((path) => /^(node_modules\/(@[^/]+\/)?[^/]+)(\/node_modules\/(@[^/]+\/)?[^/]+)*$/.test(path))
    .map((path) => `${path} ${(JSON.parse(readFileSync(join(pkgRoot, path, 'package.json'), 'utf8')) as { version: string }).version}`);
  assert.deepEqual(installed.sort(), expected.sort());
  assert.equal(execFileSync(join(prefix, 'bin', 'sockvisor'), ['--version'], { encoding: 'utf8' }).trim(), version);
});
