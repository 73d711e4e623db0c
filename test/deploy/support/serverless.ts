/**
 * Runs the Serverless Framework (osls) on this service from a private tree, so its builds never
 * meet those of other tests: serverless-esbuild bundles into `.esbuild/` beside serverless.yml and
 * deletes it after packaging, which would pull the bundles from under a `serverless offline` that
 * another test file is running from the repository at the same time.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Template } from './cloudformation-spec.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SERVERLESS_BIN = join(PROJECT_ROOT, 'node_modules/serverless/bin/serverless.js');

/** What serverless-esbuild and serverless write next to serverless.yml: kept out of the private tree. */
const BUILD_OUTPUTS = new Set(['.esbuild', '.serverless', '.serverless-offline', '.git']);

/**
 * A temporary directory with the project's top-level files copied (serverless.yml, package.json…)
 * and its folders linked (handlers/, lib/, infra/, node_modules/…), so builds land in it while
 * sources, plugins and dependencies are the project's own. Remove it with `cleanup()`.
 */
export async function linkServiceTree(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'doozer-service-'));
  for (const entry of await readdir(PROJECT_ROOT, { withFileTypes: true })) {
    if (BUILD_OUTPUTS.has(entry.name)) continue;
    const [from, to] = [join(PROJECT_ROOT, entry.name), join(dir, entry.name)];
    // Files are copied (osls takes a symlinked serverless.yml for no service at all), folders linked.
    if (entry.isDirectory()) await symlink(from, to);
    else await copyFile(from, to);
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The environment for a Serverless run: this process's, less every `DOOZER_*` setting (a test
 * chooses those it wants), plus `extra`.
 */
export function serverlessEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('DOOZER_')) env[key] = value;
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

export interface PackagedService {
  /** The `--package` directory: the CloudFormation templates and one zip per function. */
  readonly dir: string;
  readonly template: Template;
  /** Removes the private tree and the package. */
  readonly cleanup: () => Promise<void>;
}

/**
 * `serverless package --stage <stage> --package <tmp>`: offline, no credentials. Rejects with
 * Serverless's output when it fails.
 */
export async function packageService(stage: string, env: NodeJS.ProcessEnv): Promise<PackagedService> {
  const tree = await linkServiceTree();
  const dir = join(tree.dir, 'package-output');
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [SERVERLESS_BIN, 'package', '--stage', stage, '--package', dir],
        { cwd: tree.dir, env, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`serverless package --stage ${stage} failed:\n${stdout}\n${stderr}`)) : resolve(),
      );
    });
    const template = JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
    return { dir, template, cleanup: tree.cleanup };
  } catch (error) {
    await tree.cleanup();
    throw error;
  }
}
