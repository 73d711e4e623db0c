// Bundles the CLI and the typed client into dist/ (run by `prepare`, so `npm install` at the
// project root builds them and links `doozer` into node_modules/.bin), then emits type declarations.
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist', { recursive: true, force: true });
const common = {
  bundle: true,
  minify: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
  // commander is CommonJS and requires Node built-ins; give the ESM bundle a require to do it with.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
};
await build({ ...common, entryPoints: { doozer: 'src/cli.ts' }, banner: { js: `#!/usr/bin/env node\n${common.banner.js}` } });
chmodSync('dist/doozer.mjs', 0o755);
await build({ ...common, entryPoints: { index: 'src/index.ts' } });

const tsc = new URL(import.meta.resolve('typescript/bin/tsc')).pathname;
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
// Declarations keep the sources' `.ts` import paths; consumers resolve `.js` to the `.d.ts` beside it.
for (const file of readdirSync('dist').filter((name) => name.endsWith('.d.ts'))) {
  const path = `dist/${file}`;
  writeFileSync(path, readFileSync(path, 'utf8').replace(/(from '\.\/[^']+)\.ts'/g, "$1.js'"));
}
