// After prebuildify (which ships the N-API addon in prebuilds/linux-<arch>/), ship sockvisor-guard
// next to it: node-gyp builds it in build/Release as a second target, which prebuildify ignores.
import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const built = join('build', 'Release', 'sockvisor-guard');
if (!existsSync(built)) {
  console.error(`prebuild-guard: ${built} is missing: run 'npm run build' first (node-gyp builds it with the addon).`);
  process.exit(1);
}
const dir = join('prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
copyFileSync(built, join(dir, 'sockvisor-guard'));
chmodSync(join(dir, 'sockvisor-guard'), 0o755);
console.log(`prebuild-guard: ${join(dir, 'sockvisor-guard')}`);
