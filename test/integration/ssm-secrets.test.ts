import { SSMClient } from '@aws-sdk/client-ssm';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadApiSettings, readSecureStrings } from '../../lib/aws/ssm-secrets.ts';
import { ConfigError, DEVELOPMENT_JWT_SECRET } from '../../lib/config.ts';
import { testPasswordHash } from '../support/test-users.ts';

/**
 * The SSM adapter, through the real @aws-sdk/client-ssm, against a tiny fake of SSM's GetParameters
 * on 127.0.0.1 that this test starts and stops. No SSM emulator on npm runs on these machines
 * (LocalStack and moto need Docker or PyPI, which they lack), so the fake speaks just what the client
 * sends and reads: the JSON 1.1 protocol (`X-Amz-Target: AmazonSSM.GetParameters`), answering
 * `Parameters` and `InvalidParameters`, or an error by its `__type`.
 */
interface StoredParameter {
  readonly Type: 'String' | 'StringList' | 'SecureString';
  readonly Value: string;
}

class FakeSsm {
  readonly parameters = new Map<string, StoredParameter>();
  /** When set, every call fails with this AWS error (e.g. AccessDeniedException). */
  failWith: { type: string; message: string; status: number } | undefined;
  readonly calls: { target: string | undefined; body: { Names?: string[]; WithDecryption?: boolean } }[] = [];
  readonly #server: Server = createServer((request, response) => {
    let raw = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (raw += chunk));
    request.on('end', () => {
      const target = request.headers['x-amz-target'] as string | undefined;
      const body = JSON.parse(raw || '{}') as { Names?: string[]; WithDecryption?: boolean };
      this.calls.push({ target, body });
      const reply = (status: number, payload: unknown, type?: string) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(type && { 'x-amzn-errortype': type }) });
        response.end(JSON.stringify(payload));
      };
      if (this.failWith) {
        reply(this.failWith.status, { __type: this.failWith.type, message: this.failWith.message }, this.failWith.type);
        return;
      }
      if (target !== 'AmazonSSM.GetParameters') {
        reply(400, { __type: 'InvalidAction', message: `the fake answers only GetParameters, not ${target}` }, 'InvalidAction');
        return;
      }
      const names = body.Names ?? [];
      reply(200, {
        Parameters: names
          .filter((name) => this.parameters.has(name))
          .map((name) => {
            const stored = this.parameters.get(name)!;
            // Like SSM: without WithDecryption a SecureString comes back encrypted.
            const value = stored.Type === 'SecureString' && !body.WithDecryption ? 'AQICAH-ciphertext' : stored.Value;
            return { Name: name, Type: stored.Type, Value: value, Version: 1, ARN: `arn:aws:ssm:us-east-1:123456789012:parameter${name}` };
          }),
        InvalidParameters: names.filter((name) => !this.parameters.has(name)),
      });
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.#server.close((error) => (error ? reject(error) : resolve())));
  }
}

const JWT_SECRET_PARAMETER = '/doozer/prod/jwt-secret';
const USERS_PARAMETER = '/doozer/prod/users';
const SECRET = 'a-production-secret-read-from-ssm-0123456789';

const fake = new FakeSsm();
let ssm: SSMClient;
let users: string;
let prodEnv: NodeJS.ProcessEnv;

function clientFor(endpoint: string): SSMClient {
  return new SSMClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    // One attempt: the failures below are answers, not outages worth retrying in a test.
    maxAttempts: 1,
  });
}

beforeAll(async () => {
  ssm = clientFor(await fake.start());
  users = JSON.stringify([{ username: 'alice', passwordHash: await testPasswordHash('alice-password') }]);
  prodEnv = {
    DOOZER_STAGE: 'prod',
    DOOZER_TABLE_NAME: 'doozer-prod-tasks',
    DOOZER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/doozer-prod-tasks',
    DOOZER_JWT_SECRET_PARAMETER: JWT_SECRET_PARAMETER,
    DOOZER_USERS_PARAMETER: USERS_PARAMETER,
  };
});

afterAll(async () => {
  ssm.destroy();
  await fake.stop();
});

beforeEach(() => {
  fake.parameters.clear();
  fake.parameters.set(JWT_SECRET_PARAMETER, { Type: 'SecureString', Value: SECRET });
  fake.parameters.set(USERS_PARAMETER, { Type: 'SecureString', Value: users });
  fake.failWith = undefined;
  fake.calls.length = 0;
});

async function configErrorOf(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('readSecureStrings', () => {
  it('reads both parameters, decrypted, in one GetParameters call', async () => {
    const values = await readSecureStrings(ssm, [JWT_SECRET_PARAMETER, USERS_PARAMETER]);
    expect(values.get(JWT_SECRET_PARAMETER)).toBe(SECRET);
    expect(values.get(USERS_PARAMETER)).toBe(users);
    expect(fake.calls).toEqual([
      { target: 'AmazonSSM.GetParameters', body: { Names: [JWT_SECRET_PARAMETER, USERS_PARAMETER], WithDecryption: true } },
    ]);
  });

  it('names only the parameter that does not exist', async () => {
    fake.parameters.delete(USERS_PARAMETER);
    const { message } = await configErrorOf(readSecureStrings(ssm, [JWT_SECRET_PARAMETER, USERS_PARAMETER]));
    expect(message).toContain(`${USERS_PARAMETER}: does not exist`);
    expect(message).not.toContain(`${JWT_SECRET_PARAMETER}:`);
    expect(message).not.toContain(SECRET);
  });

  it('refuses a parameter that is not a SecureString', async () => {
    fake.parameters.set(JWT_SECRET_PARAMETER, { Type: 'String', Value: SECRET });
    const { message } = await configErrorOf(readSecureStrings(ssm, [JWT_SECRET_PARAMETER, USERS_PARAMETER]));
    expect(message).toContain(`${JWT_SECRET_PARAMETER}: is a String parameter; store it as a SecureString`);
    expect(message).not.toContain(SECRET);
  });

  it('turns access denied into a ConfigError naming the parameters and what the role needs', async () => {
    fake.failWith = {
      type: 'AccessDeniedException',
      status: 400,
      message: `User: arn:aws:sts::123456789012:assumed-role/doozer-prod-api/doozer-prod-api is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:us-east-1:123456789012:parameter${JWT_SECRET_PARAMETER}`,
    };
    const error = await configErrorOf(readSecureStrings(ssm, [JWT_SECRET_PARAMETER, USERS_PARAMETER]));
    expect(error.message).toContain(`could not read the SSM parameters ${JWT_SECRET_PARAMETER}, ${USERS_PARAMETER}`);
    expect(error.message).toContain('AccessDeniedException');
    expect(error.message).toContain('needs ssm:GetParameters on them, and kms:Decrypt');
    expect((error.cause as Error).name).toBe('AccessDeniedException');
  });

  it('turns an unreachable SSM into a ConfigError naming the parameters', async () => {
    const closed = new FakeSsm();
    const endpoint = await closed.start();
    await closed.stop();
    const unreachable = clientFor(endpoint);
    try {
      const { message } = await configErrorOf(readSecureStrings(unreachable, [JWT_SECRET_PARAMETER]));
      expect(message).toContain(`could not read the SSM parameters ${JWT_SECRET_PARAMETER}`);
    } finally {
      unreachable.destroy();
    }
  });
});

describe('loadApiSettings (the api function cold start)', () => {
  it('outside the local stage, builds the configuration from the SSM parameters', async () => {
    const config = await loadApiSettings(prodEnv, ssm);
    expect(config.stage).toBe('prod');
    expect(config.auth.secret).toBe(SECRET);
    expect(config.auth.users.map((user) => user.username)).toEqual(['alice']);
    expect(fake.calls).toHaveLength(1);
  });

  it('on the local stage, makes no SSM call', async () => {
    const config = await loadApiSettings(
      {
        DOOZER_STAGE: 'local',
        DOOZER_TABLE_NAME: 'doozer-local-tasks',
        DOOZER_QUEUE_URL: 'http://127.0.0.1:9324/000000000000/doozer-local-tasks',
        DOOZER_JWT_SECRET: DEVELOPMENT_JWT_SECRET,
        DOOZER_USERS: users,
        DOOZER_JWT_SECRET_PARAMETER: '',
        DOOZER_USERS_PARAMETER: '',
      },
      ssm,
    );
    expect(config.auth.secret).toBe(DEVELOPMENT_JWT_SECRET);
    expect(fake.calls).toEqual([]);
  });

  it('refuses the development secret read from SSM, naming the parameter', async () => {
    fake.parameters.set(JWT_SECRET_PARAMETER, { Type: 'SecureString', Value: DEVELOPMENT_JWT_SECRET });
    const { message } = await configErrorOf(loadApiSettings(prodEnv, ssm));
    expect(message).toContain(`SSM parameter ${JWT_SECRET_PARAMETER} (DOOZER_JWT_SECRET_PARAMETER): is the development secret`);
    expect(message).not.toContain(DEVELOPMENT_JWT_SECRET);
  });

  it('fails on a missing parameter, naming it', async () => {
    fake.parameters.delete(JWT_SECRET_PARAMETER);
    const { message } = await configErrorOf(loadApiSettings(prodEnv, ssm));
    expect(message).toContain(`${JWT_SECRET_PARAMETER}: does not exist`);
  });

  it('refuses a bad environment before making any SSM call', async () => {
    const { message } = await configErrorOf(loadApiSettings({ ...prodEnv, DOOZER_JWT_SECRET: SECRET, DOOZER_QUEUE_URL: '' }, ssm));
    expect(message).toContain('DOOZER_JWT_SECRET: must not be set outside the local stage');
    expect(message).toContain('DOOZER_QUEUE_URL');
    expect(message).not.toContain(SECRET);
    expect(fake.calls).toEqual([]);
  });
});
