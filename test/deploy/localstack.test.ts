/**
 * The LocalStack path (`localstack.yml`, `npm run deploy:localstack`) as far as it can be checked
 * without Docker: the compose file, the deploy script's settings, and a whole run of the deploy
 * script against a fake LocalStack on 127.0.0.1 that stores the secrets and refuses the
 * CloudFormation calls, which shows where every call goes and what the packaged template asks for.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isPasswordHash } from '../../lib/auth/passwords.ts';
import {
  DEFAULT_LOCALSTACK_ENDPOINT,
  LOCALSTACK_STAGE,
  deploySettings,
  serverlessEnvironment,
} from '../../local/deploy-localstack.ts';
import type { Template } from './support/cloudformation-spec.ts';
import { type FakeAws, type RecordedRequest, startFakeAws } from './support/fake-aws.ts';
import { grantsOf } from './support/iam.ts';
import { PROJECT_ROOT, linkServiceTree, serverlessEnv } from './support/serverless.ts';

interface ComposeFile {
  services: Record<string, { image: string; ports: string[]; environment: Record<string, string>; volumes?: string[] }>;
}

let compose: ComposeFile;
let localstack: ComposeFile['services'][string];
const enabledServices = () => localstack.environment.SERVICES!.split(',').map((s) => s.trim());

beforeAll(async () => {
  compose = parse(await readFile(join(PROJECT_ROOT, 'localstack.yml'), 'utf8')) as ComposeFile;
  localstack = compose.services.localstack!;
});

describe('localstack.yml', () => {
  it('publishes LocalStack on loopback only', () => {
    expect(localstack.ports.length).toBeGreaterThan(0);
    for (const mapping of localstack.ports) expect(mapping).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it('enables SQS, DynamoDB, Lambda, API Gateway, IAM, CloudFormation and SSM', () => {
    expect(enabledServices()).toEqual(
      expect.arrayContaining(['sqs', 'dynamodb', 'lambda', 'apigateway', 'iam', 'cloudformation', 'ssm']),
    );
  });

  it('lets LocalStack start the functions’ containers and run the arm64 functions on any host', () => {
    expect(localstack.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock');
    expect(localstack.environment.LAMBDA_IGNORE_ARCHITECTURE).toBe('1');
  });

  it('is where the deploy script looks for it by default', () => {
    const [hostIp, hostPort] = localstack.ports[0]!.split(':');
    const endpoint = new URL(DEFAULT_LOCALSTACK_ENDPOINT);
    expect([endpoint.hostname, endpoint.port]).toEqual([hostIp, hostPort]);
    expect(deploySettings({}).endpoint).toBe(`http://${hostIp}:${hostPort}`);
  });
});

describe('the deploy script’s settings', () => {
  it('names the parameters as serverless.yml does for the localstack stage, and follows the same overrides', () => {
    expect(deploySettings({})).toMatchObject({
      jwtSecretParameter: '/doozer/localstack/jwt-secret',
      usersParameter: '/doozer/localstack/users',
    });
    expect(deploySettings({ DOOZER_USERS_PARAMETER: '/team/users' }).usersParameter).toBe('/team/users');
  });

  it('refuses an endpoint off this machine, and the development user', () => {
    expect(() => deploySettings({ LOCALSTACK_ENDPOINT: 'http://10.0.0.5:4566' })).toThrow(/must be on this machine/);
    expect(() => deploySettings({ DOOZER_LOCALSTACK_USERNAME: 'doozer' })).toThrow(/only the local stage/);
  });

  it('aims serverless at LocalStack and drops the shell’s profile, session and per-service endpoints', () => {
    const env = serverlessEnvironment(deploySettings({}), {
      PATH: '/usr/bin',
      AWS_PROFILE: 'production',
      AWS_SESSION_TOKEN: 'real-session',
      AWS_ENDPOINT_URL_S3: 'https://s3.example.com',
      AWS_ACCESS_KEY_ID: 'AKIAREAL',
    });
    expect(env).toMatchObject({
      PATH: '/usr/bin',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
    });
    expect(Object.keys(env).filter((key) => /PROFILE|SESSION|ENDPOINT_URL_/.test(key))).toEqual([]);
  });
});

describe('npm run deploy:localstack, against a fake LocalStack', () => {
  let fake: FakeAws;
  let tree: Awaited<ReturnType<typeof linkServiceTree>>;
  let run: { code: number; output: string };
  let template: Template;

  beforeAll(async () => {
    fake = await startFakeAws((request) => {
      if (request.path === '/_localstack/health') return { body: { services: {} } };
      if (request.target === 'AmazonSSM.PutParameter') return { body: { Version: 1, Tier: 'Standard' } };
      return undefined; // Everything else: AccessDenied, so serverless stops at its first AWS call.
    });
    tree = await linkServiceTree();
    run = await new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', join(PROJECT_ROOT, 'local/deploy-localstack.ts')],
        { cwd: tree.dir, env: serverlessEnv({ LOCALSTACK_ENDPOINT: fake.endpoint }), timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}\n${stderr}` }),
      );
    });
    // serverless deploy packages before its first AWS call, into .serverless/ beside serverless.yml.
    template = JSON.parse(
      await readFile(join(tree.dir, '.serverless/cloudformation-template-update-stack.json'), 'utf8'),
    ) as Template;
  }, 240_000);

  afterAll(async () => {
    await Promise.all([fake?.close(), tree?.cleanup()]);
  });

  const putParameters = () =>
    fake.requests
      .filter((r: RecordedRequest) => r.target === 'AmazonSSM.PutParameter')
      .map((r) => JSON.parse(r.body) as { Name: string; Value: string; Type: string; Overwrite: boolean });

  it('checks that LocalStack answers before anything else', () => {
    expect(fake.requests[0]).toMatchObject({ method: 'GET', path: '/_localstack/health' });
  });

  it('puts a fresh JWT secret and user as SecureStrings, where the stage’s API reads them', () => {
    const puts = putParameters();
    expect(puts.map(({ Name, Type, Overwrite }) => ({ Name, Type, Overwrite }))).toEqual([
      { Name: '/doozer/localstack/jwt-secret', Type: 'SecureString', Overwrite: true },
      { Name: '/doozer/localstack/users', Type: 'SecureString', Overwrite: true },
    ]);
    expect(puts[0]!.Value.length).toBeGreaterThanOrEqual(32);
    const users = JSON.parse(puts[1]!.Value) as { username: string; passwordHash: string }[];
    expect(users).toHaveLength(1);
    expect(users[0]!.username).toBe('localstack');
    expect(isPasswordHash(users[0]!.passwordHash)).toBe(true);

    const env = (template.Resources.ApiLambdaFunction!.Properties as any).Environment.Variables;
    expect(env).toMatchObject({
      DOOZER_STAGE: LOCALSTACK_STAGE,
      DOOZER_JWT_SECRET_PARAMETER: puts[0]!.Name,
      DOOZER_USERS_PARAMETER: puts[1]!.Name,
    });
    const arn = (name: string) => `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${name}`;
    expect(grantsOf(template, 'ApiRole')).toEqual(expect.arrayContaining(puts.map((p) => `ssm:GetParameters on ${arn(p.Name)}`)));
  });

  it('runs serverless deploy --stage localstack with its AWS calls sent to the LocalStack endpoint', () => {
    // Every request the fake saw was signed for a service at this endpoint; the first refusal ends it.
    const services = new Set(fake.requests.map((r) => r.service).filter(Boolean));
    expect(services.has('ssm')).toBe(true);
    expect([...services].some((s) => ['cloudformation', 's3', 'sts'].includes(s))).toBe(true);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain(`serverless deploy --stage ${LOCALSTACK_STAGE} failed`);
  });

  it('deploys nothing that localstack.yml does not enable', () => {
    // CloudFormation namespace -> LocalStack service name.
    const serviceOf: Record<string, string> = { ApiGatewayV2: 'apigatewayv2', CloudWatch: 'cloudwatch' };
    const needed = new Set(
      Object.values(template.Resources).map(({ Type }) => {
        const namespace = Type.split('::')[1]!;
        return serviceOf[namespace] ?? namespace.toLowerCase();
      }),
    );
    expect([...needed].filter((service) => !enabledServices().includes(service))).toEqual([]);
  });
});
