/**
 * The `doozer-cli` package as a user gets it: `npm pack -w client`, then a global install of the
 * tarball into an empty prefix, as `npm install -g doozer-cli` would make it. It must install
 * without a warning (npm 11 warns of any install script, `prepare` included), carry its README and
 * licence, need nothing from the registry (no runtime dependency: everything is bundled), and the
 * installed command must answer.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import clientPackage from '../../client/package.json' with { type: 'json' };
import { checkBundleIsFresh } from '../support/run-cli.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** This environment without npm's own variables (`npm test` sets some, such as the workspace). */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));

let home: string;
/** What `npm pack --json` says of the tarball. */
interface Packed {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

let packed: Packed;
let installOutput: string;
let doozer: string;

beforeAll(async () => {
  await checkBundleIsFresh();
  home = await mkdtemp(join(tmpdir(), 'doozer-package-'));
  // --ignore-scripts: the bundle the other tests run is packed as it is, not rebuilt under them by prepack.
  const pack = await run('npm', ['pack', '-w', 'client', '--json', '--ignore-scripts', '--pack-destination', home], { cwd: ROOT, env: ENV });
  [packed] = JSON.parse(pack.stdout) as [Packed];
  const tarball = join(home, packed.filename);
  const prefix = join(home, 'prefix');
  // --offline: a package that needed anything from the registry would fail here.
  const install = await run('npm', ['install', '-g', '--offline', '--prefix', prefix, tarball], { cwd: home, env: ENV });
  installOutput = install.stdout + install.stderr;
  doozer = join(prefix, 'bin', 'doozer');
}, 120_000);

afterAll(async () => {
  if (home) await rm(home, { recursive: true, force: true });
});

describe('the packed doozer-cli', () => {
  it('holds the bundles, their types, the README and the licence, and no sources', () => {
    const files = packed.files.map((file) => file.path);
    expect(files).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/doozer.mjs', 'dist/index.mjs', 'dist/index.d.ts']));
    expect(files.some((file) => /^dist\/cli\/main-\w+\.mjs$/.test(file))).toBe(true);
    expect(files.filter((file) => !file.startsWith('dist/') && !['README.md', 'LICENSE', 'package.json'].includes(file))).toEqual([]);
  });

  it('has no install script (prepack runs at npm pack only) and no runtime dependency', () => {
    const scripts = Object.keys((clientPackage as { scripts?: Record<string, string> }).scripts ?? {});
    expect(scripts.filter((name) => /^(pre|post)?(install|prepare)$/.test(name))).toEqual([]);
    expect(clientPackage).not.toHaveProperty('dependencies');
  });

  it('installs globally without a warning', () => {
    expect(installOutput).toMatch(/added 1 package/);
    expect(installOutput).not.toMatch(/warn/i);
  });

  it.each([['--version'], ['-v'], ['version']])('answers doozer %s', async (flag) => {
    expect(await run(doozer, [flag])).toEqual({ stdout: `doozer ${clientPackage.version}\n`, stderr: '' });
  });

  it('answers doozer help with the commands and the exit codes', async () => {
    const { stdout } = await run(doozer, ['help']);
    expect(stdout).toContain('Available Commands:');
    expect(stdout).toContain('Exit codes:');
  });

  it('carries the MIT licence its package.json names', async () => {
    expect(clientPackage.license).toBe('MIT');
    expect(await readFile(join(ROOT, 'client/LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  });
});
