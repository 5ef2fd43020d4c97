// `npm run package:deb [-- --out DIR]`: sockvisor_VERSION_ARCH.deb, built with dpkg-deb alone.
// Its program is the npm package installed the way a user installs it (`npm install -g` of the
// `npm pack` tarball: the prebuilt addon and sockvisor-guard, the production dependencies bundled
// at the versions package-lock.json pins), moved to /usr/lib/sockvisor. Around it: /usr/bin/sockvisor,
// the template unit sockvisor@.service and /etc/sockvisor/app.toml.example. It depends on
// Debian's own nodejs (>= 18.19) and on the libraries the native code links (dpkg-shlibdeps), so
// `apt install ./sockvisor_*.deb` pulls Debian's packages only.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outIndex = process.argv.indexOf('--out');
const out = resolve(outIndex > 0 ? (process.argv[outIndex + 1] ?? '.') : repo);
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
// package.json's "bin" names the entry npm links as `sockvisor`; /usr/bin/sockvisor is the same link.
const binEntry = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin.sockvisor;
const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
const run = (file, args, options = {}) => execFileSync(file, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options });

const work = mkdtempSync(join(tmpdir(), 'sockvisor-deb-'));
try {
  // npm pack in a copy of the sources: prebuildify moves the addon it builds out of build/Release,
  // and the checkout's build/ stays as the tests use it.
  const copy = join(work, 'checkout');
  mkdirSync(copy);
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'binding.gyp', 'README.md', 'src', 'native', 'scripts']) {
    cpSync(join(repo, entry), join(copy, entry), { recursive: true });
  }
  // A copy, not a link: npm pack bundles the production dependencies from it (bundleDependencies).
  cpSync(join(repo, 'node_modules'), join(copy, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  const packed = run('npm', ['pack', '--pack-destination', work], { cwd: copy }).trim().split('\n').pop();
  const tarball = join(work, packed);

  // The global install a user would do, into a private prefix (the dependencies are in the tarball).
  const prefix = join(work, 'prefix');
  run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--no-update-notifier', tarball], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const root = join(work, 'root');
  const lib = join(root, 'usr', 'lib', 'sockvisor');
  mkdirSync(dirname(lib), { recursive: true });
  renameSync(join(prefix, 'lib', 'node_modules', 'sockvisor'), lib);
  const entry = join(lib, binEntry);
  if (!existsSync(entry)) throw new Error(`package.json "bin" names ${binEntry}, which the package does not hold`);
  chmodSync(entry, 0o755);
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  symlinkSync(relative(join(root, 'usr', 'bin'), entry), join(root, 'usr', 'bin', 'sockvisor'));

  // The template unit, as `sockvisor systemd-unit --template` prints it when run as /usr/bin/sockvisor.
  const { templateUnit } = await import(pathToFileURL(join(lib, 'dist', 'src', 'systemd', 'unit.js')).href);
  mkdirSync(join(root, 'lib', 'systemd', 'system'), { recursive: true });
  writeFileSync(join(root, 'lib', 'systemd', 'system', 'sockvisor@.service'), templateUnit(['/usr/bin/sockvisor']));
  mkdirSync(join(root, 'etc', 'sockvisor'), { recursive: true });
  cpSync(join(repo, 'examples', 'app.toml'), join(root, 'etc', 'sockvisor', 'app.toml.example'));
  mkdirSync(join(root, 'usr', 'share', 'doc', 'sockvisor'), { recursive: true });
  cpSync(join(repo, 'README.md'), join(root, 'usr', 'share', 'doc', 'sockvisor', 'README.md'));
  // The README is the front door: its reference (options, signals, deployment) is in docs/, which its links name.
  // Text only: the benchmark plots (1 MB of SVG) stay in the repository.
  cpSync(join(repo, 'docs'), join(root, 'usr', 'share', 'doc', 'sockvisor', 'docs'), {
    recursive: true,
    filter: (path) => !path.endsWith('.svg'),
  });

  // The shared libraries the addon and sockvisor-guard link (libc6, libstdc++6), with
  // the versions their symbols need. dpkg-shlibdeps reads the package name from debian/control.
  const natives = run('find', [lib, '-name', '*.node', '-o', '-name', 'sockvisor-guard', '-type', 'f']).trim().split('\n').filter(Boolean);
  if (natives.length < 2)
    throw new Error(`the installed package holds no prebuilt addon and guard (found: ${natives.join(', ') || 'nothing'})`);
  mkdirSync(join(work, 'debian'));
  writeFileSync(join(work, 'debian', 'control'), 'Source: sockvisor\n\nPackage: sockvisor\nArchitecture: any\n');
  // Its stderr stays quiet: that no library has the napi_* symbols (node itself provides them) and
  // that the binaries are not under debian/sockvisor/ say nothing about this package.
  const shlibs = run('dpkg-shlibdeps', ['-O', ...natives.map((f) => `-e${f}`)], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const libDepends = shlibs.replace(/^shlibs:Depends=/, '');

  const size = run('du', ['-sk', '--apparent-size', root]).split('\t')[0];
  mkdirSync(join(root, 'DEBIAN'));
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    [
      `Package: sockvisor`,
      `Version: ${pkg.version}`,
      `Architecture: ${arch}`,
      `Maintainer: sockvisor developers <dev@sockvisor.invalid>`,
      `Installed-Size: ${size}`,
      `Depends: nodejs (>= 18.19), ${libDepends}`,
      `Recommends: systemd`,
      `Section: admin`,
      `Priority: optional`,
      `Homepage: https://www.npmjs.com/package/sockvisor`,
      `Description: ${pkg.description.split(':')[0]}`,
      ` ${pkg.description}`,
      ` One config file per app: /etc/sockvisor/NAME.toml, run by sockvisor@NAME.service.`,
      ``,
    ].join('\n'),
  );
  writeFileSync(join(root, 'DEBIAN', 'conffiles'), '/etc/sockvisor/app.toml.example\n');
  // A new or changed sockvisor@.service is read at once; running instances keep running.
  writeFileSync(
    join(root, 'DEBIAN', 'postinst'),
    '#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi\n',
    { mode: 0o755 },
  );
  writeFileSync(
    join(root, 'DEBIAN', 'postrm'),
    '#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi\n',
    { mode: 0o755 },
  );
  chmodSync(join(root, 'DEBIAN', 'postinst'), 0o755);
  chmodSync(join(root, 'DEBIAN', 'postrm'), 0o755);

  mkdirSync(out, { recursive: true });
  const deb = join(out, `sockvisor_${pkg.version}_${arch}.deb`);
  run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.stdout.write(`${deb}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
