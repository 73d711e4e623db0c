/**
 * The local stack reads serverless.yml's queues and table itself (local/serverless-resources.ts)
 * rather than through the Serverless Framework, which takes seconds to load: here the Framework's own
 * reading (`serverless print`, offline) of the local stage is the reference it must match, property
 * for property, with and without the visibility override the stack hands serverless-offline.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readServerlessYml, serverlessResources } from '../../local/serverless-resources.ts';
import { STAGE } from '../../local/settings.ts';
import { SERVERLESS_BIN, linkServiceTree, serverlessEnv } from './support/serverless.ts';

const PROVISIONED_TYPES = ['AWS::SQS::Queue', 'AWS::DynamoDB::Table'];
const yml = await readServerlessYml();

type Resources = Record<string, { Type: string; Properties?: unknown }>;

/** `serverless print --stage <stage>`'s resources, as the Framework resolves them with `env`. */
function printResources(dir: string, env: Record<string, string>): Promise<Resources> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [SERVERLESS_BIN, 'print', '--stage', STAGE, '--format', 'json'],
      { cwd: dir, env: serverlessEnv(env), maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`serverless print failed:\n${stdout}\n${stderr}`));
        else resolve((JSON.parse(stdout) as { resources: { Resources: Resources } }).resources.Resources);
      },
    );
  });
}

const provisioned = (resources: Resources) =>
  Object.fromEntries(Object.entries(resources).filter(([, resource]) => PROVISIONED_TYPES.includes(resource.Type)));

describe('serverless.yml read for the local stack', () => {
  let tree: Awaited<ReturnType<typeof linkServiceTree>>;
  let printed: { byDefault: Resources; overridden: Resources };

  beforeAll(async () => {
    tree = await linkServiceTree();
    const [byDefault, overridden] = await Promise.all([
      printResources(tree.dir, {}),
      printResources(tree.dir, { DOOZER_VISIBILITY_TIMEOUT_SECONDS: '7' }),
    ]);
    printed = { byDefault, overridden };
  }, 120_000);

  afterAll(async () => {
    await tree?.cleanup();
  });

  it('gives the queues and the table exactly the properties the Serverless Framework gives them', () => {
    expect(Object.keys(provisioned(printed.byDefault)).length).toBeGreaterThanOrEqual(5);
    expect(serverlessResources(yml, PROVISIONED_TYPES, { stage: STAGE, env: {} })).toEqual(provisioned(printed.byDefault));
  });

  it('takes DOOZER_VISIBILITY_TIMEOUT_SECONDS as the Framework does on the local stage', () => {
    const resources = serverlessResources(yml, PROVISIONED_TYPES, { stage: STAGE, env: { DOOZER_VISIBILITY_TIMEOUT_SECONDS: '7' } });
    expect(resources).toEqual(provisioned(printed.overridden));
    expect(resources.TaskQueue?.Properties.VisibilityTimeout).toBe('7');
  });
});
