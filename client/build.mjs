// Bundles the CLI and the typed client into dist/, then emits the client's type declarations. Run
// by the project root's `prepare` (after `npm ci`) and by `prepack` (before `npm pack`); the package
// has no install script, so installing it runs nothing.
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
// Split: `doozer --version` loads the entry alone, the rest (commander, the client) comes with main.
// The entry's #! line is its own, kept by esbuild.
await build({ ...common, entryPoints: { doozer: 'src/cli.ts' }, splitting: true, chunkNames: 'cli/[name]-[hash]' });
chmodSync('dist/doozer.mjs', 0o755);
await build({ ...common, entryPoints: { index: 'src/index.ts' } });

const tsc = new URL(import.meta.resolve('typescript/bin/tsc')).pathname;
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
// Declarations keep the sources' `.ts` import paths; consumers resolve `.js` to the `.d.ts` beside it.
for (const file of readdirSync('dist').filter((name) => name.endsWith('.d.ts'))) {
  const path = `dist/${file}`;
  writeFileSync(path, readFileSync(path, 'utf8').replace(/(from '\.\/[^']+)\.ts'/g, "$1.js'"));
}
