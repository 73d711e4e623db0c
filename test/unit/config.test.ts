import { readOffsets } from '../../lib/tasks/wait-policy.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiSecretValues,
  ConfigError,
  DEVELOPMENT_JWT_SECRET,
  DEVELOPMENT_USERNAME,
  apiSecretParameters,
  loadApiConfig,
  loadWorkerConfig,
  webhookSecretsOf,
} from '../../lib/config.ts';
import { DEVELOPMENT_WEBHOOK_SECRET } from '../../lib/webhooks/secrets.ts';
import { testPasswordHash } from '../support/test-users.ts';

let passwordHash: string;
/** The local stage: secrets in the environment. */
let validEnv: NodeJS.ProcessEnv;
/** Any other stage: secrets in SSM parameters, whose values `prodSecrets` holds. */
let prodEnv: NodeJS.ProcessEnv;
let prodSecrets: ApiSecretValues;
const JWT_SECRET_PARAMETER = '/doozer/prod/jwt-secret';
const USERS_PARAMETER = '/doozer/prod/users';
const PROD_SECRET = 'a-production-secret-of-more-than-32-characters';

beforeAll(async () => {
  passwordHash = await testPasswordHash('pw');
  validEnv = {
    DOOZER_STAGE: 'local',
    DOOZER_TABLE_NAME: 'tasks',
    DOOZER_QUEUE_URL: 'http://localhost:9324/000000000000/tasks',
    DOOZER_JWT_SECRET: 's'.repeat(32),
    DOOZER_USERS: JSON.stringify([{ username: 'alice', passwordHash }]),
  };
  prodEnv = {
    DOOZER_STAGE: 'prod',
    DOOZER_TABLE_NAME: 'tasks',
    DOOZER_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/tasks',
    DOOZER_JWT_SECRET_PARAMETER: JWT_SECRET_PARAMETER,
    DOOZER_USERS_PARAMETER: USERS_PARAMETER,
  };
  prodSecrets = { jwtSecret: PROD_SECRET, users: JSON.stringify([{ username: 'alice', passwordHash }]) };
});

/** The ConfigError `load` throws; fails the test when it does not throw one. */
function configErrorOf(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but the configuration loaded');
}

describe('loadApiConfig', () => {
  it('returns the typed configuration with defaults for a minimal valid environment', () => {
    const config = loadApiConfig(validEnv);
    expect(config).toEqual({
      stage: 'local',
      aws: { region: 'us-east-1', tableName: 'tasks', dynamodbEndpoint: undefined, sqsEndpoint: undefined },
      queueUrl: 'http://localhost:9324/000000000000/tasks',
      auth: {
        secret: 's'.repeat(32),
        issuer: 'doozer',
        audience: 'doozer-api',
        ttlSeconds: 3600,
        users: [{ username: 'alice', passwordHash }],
      },
      taskTtlSeconds: 7 * 86_400,
      runLater: { maxAheadSeconds: 7 * 86_400, maxQueueDelaySeconds: 900 },
      waitSchedule: { initialDelayMs: 20, multiplier: 2, maxDelayMs: 250 },
      defaultLimits: { requestsPerSecond: 20, burst: 40, openTasks: 100 },
      webhooks: { allowLoopback: true, queueUrl: undefined },
    });
  });

  it('raises the wait schedule\'s cap to a first read later than it, so the schedule stays valid', () => {
    const { waitSchedule } = loadApiConfig({ ...validEnv, DOOZER_WAIT_FIRST_READ_MS: '600' });
    expect(waitSchedule).toEqual({ initialDelayMs: 600, multiplier: 2, maxDelayMs: 600 });
    expect(readOffsets(waitSchedule, 5_000).slice(0, 3)).toEqual([600, 1_200, 1_800]);
  });

  it('reads every optional setting when given', () => {
    const config = loadApiConfig(
      {
        ...prodEnv,
        AWS_REGION: 'eu-west-1',
        DOOZER_DYNAMODB_ENDPOINT: 'http://localhost:8000',
        DOOZER_SQS_ENDPOINT: 'http://localhost:9324',
        DOOZER_JWT_TTL_SECONDS: '600',
        DOOZER_TASK_TTL_DAYS: '2',
      },
      prodSecrets,
    );
    expect(config.stage).toBe('prod');
    expect(config.aws).toEqual({
      region: 'eu-west-1',
      tableName: 'tasks',
      dynamodbEndpoint: 'http://localhost:8000',
      sqsEndpoint: 'http://localhost:9324',
    });
    expect(config.auth.ttlSeconds).toBe(600);
    expect(config.taskTtlSeconds).toBe(2 * 86_400);
  });

  it('converts a fractional task TTL in days to whole seconds', () => {
    expect(loadApiConfig({ ...validEnv, DOOZER_TASK_TTL_DAYS: '0.5' }).taskTtlSeconds).toBe(43_200);
  });

  it('returns a deeply frozen configuration', () => {
    const config = loadApiConfig(validEnv);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.aws)).toBe(true);
    expect(Object.isFrozen(config.auth)).toBe(true);
    expect(Object.isFrozen(config.auth.users)).toBe(true);
    expect(Object.isFrozen(config.auth.users[0])).toBe(true);
    expect(() => {
      (config as { stage: string }).stage = 'changed';
    }).toThrow(TypeError);
  });

  it('ignores unrelated environment variables', () => {
    expect(() => loadApiConfig({ ...validEnv, PATH: '/usr/bin', HOME: '/root' })).not.toThrow();
  });

  it('lists every missing required variable in one ConfigError', () => {
    const { message } = configErrorOf(() => loadApiConfig({}));
    for (const name of ['DOOZER_STAGE', 'DOOZER_TABLE_NAME', 'DOOZER_QUEUE_URL']) {
      expect(message).toContain(name);
    }
  });

  it.each([
    ['local', ['DOOZER_JWT_SECRET: is missing', 'DOOZER_USERS: is missing']],
    ['prod', ['DOOZER_JWT_SECRET_PARAMETER: must name the SSM SecureString parameter', 'DOOZER_USERS_PARAMETER: must name']],
  ])('lists the missing secrets where the %s stage keeps them', (stage, expected) => {
    const { message } = configErrorOf(() => loadApiConfig({ DOOZER_STAGE: stage }));
    for (const line of [...expected, 'DOOZER_TABLE_NAME', 'DOOZER_QUEUE_URL']) expect(message).toContain(line);
  });

  it('names only the variables that are wrong', () => {
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_TABLE_NAME: undefined }));
    expect(message).toContain('DOOZER_TABLE_NAME');
    expect(message).not.toContain('DOOZER_QUEUE_URL');
    expect(message).not.toContain('DOOZER_USERS');
  });

  it('rejects a JWT secret shorter than 32 characters, naming DOOZER_JWT_SECRET', () => {
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_JWT_SECRET: 's'.repeat(31) }));
    expect(message).toContain('DOOZER_JWT_SECRET');
  });

  it('does not put the secret itself into the error message', () => {
    const secret = 'short-but-secret';
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_JWT_SECRET: secret }));
    expect(message).not.toContain(secret);
  });

  it('rejects a queue URL that is not a URL', () => {
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_QUEUE_URL: 'tasks' }));
    expect(message).toContain('DOOZER_QUEUE_URL');
  });

  it.each([
    ['not JSON', 'alice:pw'],
    ['a JSON object instead of an array', JSON.stringify({ username: 'alice', passwordHash: 'x' })],
    ['an empty array', '[]'],
    ['a user without a passwordHash', JSON.stringify([{ username: 'alice' }])],
    ['a user with an empty username', JSON.stringify([{ username: '', passwordHash: 'scrypt$16$8$1$c2FsdA$a2V5' }])],
    ['a plain-text password instead of a hash', JSON.stringify([{ username: 'alice', passwordHash: 'pw' }])],
  ])('rejects DOOZER_USERS that is %s', (_label, users) => {
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_USERS: users }));
    expect(message).toContain('DOOZER_USERS');
  });

  it.each([
    ['DOOZER_JWT_TTL_SECONDS', 'soon'],
    ['DOOZER_JWT_TTL_SECONDS', '0'],
    ['DOOZER_JWT_TTL_SECONDS', '1.5'],
    ['DOOZER_TASK_TTL_DAYS', '-1'],
    ['DOOZER_TASK_TTL_DAYS', 'week'],
    ['DOOZER_TASK_TTL_DAYS', '0.000001'],
    ['DOOZER_DYNAMODB_ENDPOINT', 'localhost'],
    ['DOOZER_SQS_ENDPOINT', 'localhost'],
  ])('rejects %s=%j, naming it', (name, value) => {
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, [name]: value }));
    expect(message).toContain(name);
  });

  it('treats empty optional settings as unset and applies their defaults', () => {
    const config = loadApiConfig({
      ...validEnv,
      AWS_REGION: '',
      DOOZER_DYNAMODB_ENDPOINT: '',
      DOOZER_SQS_ENDPOINT: '',
      DOOZER_JWT_TTL_SECONDS: '',
      DOOZER_TASK_TTL_DAYS: '',
    });
    expect(config.aws.region).toBe('us-east-1');
    expect(config.aws.dynamodbEndpoint).toBeUndefined();
    expect(config.aws.sqsEndpoint).toBeUndefined();
    expect(config.auth.ttlSeconds).toBe(3600);
    expect(config.taskTtlSeconds).toBe(7 * 86_400);
  });

  it('treats empty required settings as missing and lists each of them', () => {
    const { message } = configErrorOf(() =>
      loadApiConfig({ DOOZER_STAGE: 'local', DOOZER_TABLE_NAME: '', DOOZER_QUEUE_URL: '', DOOZER_JWT_SECRET: '', DOOZER_USERS: '' }),
    );
    for (const name of ['DOOZER_TABLE_NAME', 'DOOZER_QUEUE_URL', 'DOOZER_JWT_SECRET', 'DOOZER_USERS']) {
      expect(message).toContain(name);
    }
  });
});

describe('loadApiConfig outside the local stage', () => {
  const usersNamed = (...names: string[]) => JSON.stringify(names.map((username) => ({ username, passwordHash })));

  it('takes the secrets from the values of the SSM parameters', () => {
    const config = loadApiConfig(prodEnv, prodSecrets);
    expect(config.stage).toBe('prod');
    expect(config.auth.secret).toBe(PROD_SECRET);
    expect(config.auth.users).toEqual([{ username: 'alice', passwordHash }]);
    expect(Object.isFrozen(config.auth.users[0])).toBe(true);
  });

  it.each(['DOOZER_JWT_SECRET_PARAMETER', 'DOOZER_USERS_PARAMETER'])(
    'requires %s, naming it and the stage',
    (name) => {
      for (const value of [undefined, '']) {
        const { message } = configErrorOf(() => loadApiConfig({ ...prodEnv, [name]: value }, prodSecrets));
        expect(message).toContain(`${name}: must name the SSM SecureString parameter`);
        expect(message).toContain('this is stage "prod"');
      }
    },
  );

  it.each([
    ['DOOZER_JWT_SECRET', 'DOOZER_JWT_SECRET_PARAMETER', PROD_SECRET],
    ['DOOZER_USERS', 'DOOZER_USERS_PARAMETER', '[]'],
  ])('refuses %s in the environment, pointing at %s, without repeating the value', (name, parameter, value) => {
    const { message } = configErrorOf(() => loadApiConfig({ ...prodEnv, [name]: value }, prodSecrets));
    expect(message).toContain(`${name}: must not be set outside the local stage (this is stage "prod")`);
    expect(message).toContain('lambda:GetFunctionConfiguration');
    expect(message).toContain(`name it in ${parameter}`);
    expect(message).not.toContain(PROD_SECRET);
  });

  it('treats an empty DOOZER_JWT_SECRET or DOOZER_USERS (serverless.yml for an unset value) as unset', () => {
    expect(loadApiConfig({ ...prodEnv, DOOZER_JWT_SECRET: '', DOOZER_USERS: '' }, prodSecrets).auth.secret).toBe(PROD_SECRET);
  });

  it('refuses a JWT secret shorter than 32 characters from SSM, naming the parameter but not the value', () => {
    const secret = 'short-but-secret';
    const { message } = configErrorOf(() => loadApiConfig(prodEnv, { ...prodSecrets, jwtSecret: secret }));
    expect(message).toContain(`SSM parameter ${JWT_SECRET_PARAMETER} (DOOZER_JWT_SECRET_PARAMETER): must be at least 32 characters`);
    expect(message).not.toContain(secret);
  });

  it.each([
    ['not JSON', 'alice:pw'],
    ['an empty array', '[]'],
    ['a plain-text password instead of a hash', JSON.stringify([{ username: 'alice', passwordHash: 'pw' }])],
  ])('refuses users from SSM that are %s, naming the parameter', (_label, users) => {
    const { message } = configErrorOf(() => loadApiConfig(prodEnv, { ...prodSecrets, users }));
    expect(message).toContain(`SSM parameter ${USERS_PARAMETER} (DOOZER_USERS_PARAMETER)`);
  });

  it('says which parameter gave no value when loadApiConfig gets none', () => {
    const { message } = configErrorOf(() => loadApiConfig(prodEnv));
    expect(message).toContain(`SSM parameter ${JWT_SECRET_PARAMETER} (DOOZER_JWT_SECRET_PARAMETER): is missing`);
    expect(message).toContain(`SSM parameter ${USERS_PARAMETER} (DOOZER_USERS_PARAMETER): is missing`);
  });

  it('refuses the development JWT secret read from SSM, naming the parameter and the stage but not the secret', () => {
    const { message } = configErrorOf(() => loadApiConfig(prodEnv, { ...prodSecrets, jwtSecret: DEVELOPMENT_JWT_SECRET }));
    expect(message).toContain(
      `SSM parameter ${JWT_SECRET_PARAMETER} (DOOZER_JWT_SECRET_PARAMETER): is the development secret, which only the local stage may use`,
    );
    expect(message).toContain('"prod"');
    expect(message).not.toContain(DEVELOPMENT_JWT_SECRET);
  });

  it('refuses the development user read from SSM, saying that the rule is about the username doozer', () => {
    const { message } = configErrorOf(() =>
      loadApiConfig(prodEnv, { ...prodSecrets, users: usersNamed('alice', DEVELOPMENT_USERNAME) }),
    );
    expect(DEVELOPMENT_USERNAME).toBe('doozer');
    expect(message).toMatch(/\(DOOZER_USERS_PARAMETER\): lists the user "doozer", the development user/);
    expect(message).toContain('only the local stage may have a user of that name');
  });

  it('refuses a JWT secret shorter than 32 characters on every stage', () => {
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_JWT_SECRET: 's'.repeat(31) }));
    expect(message).toContain('DOOZER_JWT_SECRET: must be at least 32 characters');
    const fromSsm = configErrorOf(() => loadApiConfig(prodEnv, { ...prodSecrets, jwtSecret: 's'.repeat(31) }));
    expect(fromSsm.message).toContain('(DOOZER_JWT_SECRET_PARAMETER): must be at least 32 characters');
  });

  it('lists the development settings together with every other problem in one ConfigError', () => {
    const { message } = configErrorOf(() =>
      loadApiConfig(
        { ...prodEnv, DOOZER_STAGE: 'staging', DOOZER_QUEUE_URL: 'not a url' },
        { jwtSecret: DEVELOPMENT_JWT_SECRET, users: usersNamed(DEVELOPMENT_USERNAME) },
      ),
    );
    expect(message).toContain('DOOZER_QUEUE_URL');
    expect(message).toContain('(DOOZER_JWT_SECRET_PARAMETER): is the development secret');
    expect(message).toContain('(DOOZER_USERS_PARAMETER): lists the user "doozer"');
    expect(message).toContain('"staging"');
  });

  it('still refuses the development secret when the users are not valid JSON', () => {
    const { message } = configErrorOf(() =>
      loadApiConfig(prodEnv, { jwtSecret: DEVELOPMENT_JWT_SECRET, users: 'doozer' }),
    );
    expect(message).toContain('(DOOZER_JWT_SECRET_PARAMETER): is the development secret');
    expect(message).toContain('(DOOZER_USERS_PARAMETER): must be a JSON array');
  });

  it('treats the stage name exactly: "Local" is not the local stage', () => {
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_STAGE: 'Local' }));
    expect(message).toContain('DOOZER_JWT_SECRET: must not be set outside the local stage (this is stage "Local")');
    expect(() => loadApiConfig({ ...prodEnv, DOOZER_STAGE: 'Local' }, { ...prodSecrets, jwtSecret: DEVELOPMENT_JWT_SECRET })).toThrow(
      ConfigError,
    );
  });

  it('accepts a user whose name only resembles the development user', () => {
    const config = loadApiConfig(prodEnv, { ...prodSecrets, users: usersNamed('doozer-ops', 'Doozer2') });
    expect(config.auth.users.map((user) => user.username)).toEqual(['doozer-ops', 'Doozer2']);
  });

  it('accepts the development secret and user on the local stage', () => {
    const config = loadApiConfig({
      ...validEnv,
      DOOZER_STAGE: 'local',
      DOOZER_JWT_SECRET: DEVELOPMENT_JWT_SECRET,
      DOOZER_USERS: usersNamed(DEVELOPMENT_USERNAME),
    });
    expect(config.stage).toBe('local');
    expect(config.auth.secret).toBe(DEVELOPMENT_JWT_SECRET);
    expect(config.auth.users[0]?.username).toBe(DEVELOPMENT_USERNAME);
  });

  it.each([
    ['unset', undefined],
    ['empty (serverless.yml for an unset value)', ''],
  ])('refuses to start with the stage %s, since the stage decides the safety checks', (_label, stage) => {
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_STAGE: stage }));
    expect(message).toContain('DOOZER_STAGE');
  });
});

describe('loadApiConfig on the local stage', () => {
  it.each(['DOOZER_JWT_SECRET_PARAMETER', 'DOOZER_USERS_PARAMETER'])(
    'refuses %s, since the local stage makes no SSM call',
    (name) => {
      const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, [name]: '/doozer/local/x' }));
      expect(message).toContain(`${name}: is read only outside the local stage`);
    },
  );

  it('treats empty parameter names (serverless.yml for an unset value) as unset', () => {
    expect(() => loadApiConfig({ ...validEnv, DOOZER_JWT_SECRET_PARAMETER: '', DOOZER_USERS_PARAMETER: '' })).not.toThrow();
  });
});

describe('apiSecretParameters', () => {
  it('names no parameter on the local stage', () => {
    expect(apiSecretParameters(validEnv)).toBeUndefined();
  });

  it('names the parameters to read on any other stage', () => {
    expect(apiSecretParameters(prodEnv)).toEqual({ jwtSecret: JWT_SECRET_PARAMETER, users: USERS_PARAMETER });
  });

  it('refuses a bad environment before any parameter is read, listing every problem', () => {
    const { message } = configErrorOf(() =>
      apiSecretParameters({ ...prodEnv, DOOZER_QUEUE_URL: 'tasks', DOOZER_USERS_PARAMETER: '', DOOZER_JWT_SECRET: PROD_SECRET }),
    );
    expect(message).toContain('DOOZER_QUEUE_URL');
    expect(message).toContain('DOOZER_USERS_PARAMETER: must name');
    expect(message).toContain('DOOZER_JWT_SECRET: must not be set');
    expect(message).not.toContain(PROD_SECRET);
  });
});

describe('loadWorkerConfig', () => {
  it('needs only DOOZER_TABLE_NAME', () => {
    expect(loadWorkerConfig({ DOOZER_TABLE_NAME: 'tasks' })).toEqual({
      aws: { region: 'us-east-1', tableName: 'tasks', dynamodbEndpoint: undefined, sqsEndpoint: undefined },
    });
  });

  it('reads the region and the DynamoDB endpoint, and returns a frozen configuration', () => {
    const config = loadWorkerConfig({
      DOOZER_TABLE_NAME: 'tasks',
      AWS_REGION: 'eu-central-1',
      DOOZER_DYNAMODB_ENDPOINT: 'http://localhost:8000',
    });
    expect(config.aws.region).toBe('eu-central-1');
    expect(config.aws.dynamodbEndpoint).toBe('http://localhost:8000');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.aws)).toBe(true);
  });

  it('does not require the API-only settings', () => {
    expect(() => loadWorkerConfig({ DOOZER_TABLE_NAME: 'tasks', DOOZER_USERS: 'not json' })).not.toThrow();
  });

  it('throws a ConfigError naming DOOZER_TABLE_NAME when it is missing or empty', () => {
    expect(configErrorOf(() => loadWorkerConfig({})).message).toContain('DOOZER_TABLE_NAME');
    expect(configErrorOf(() => loadWorkerConfig({ DOOZER_TABLE_NAME: '' })).message).toContain('DOOZER_TABLE_NAME');
  });
});

describe('webhookSecretsOf (the notifier)', () => {
  const users = (entries: object[]) => JSON.stringify(entries.map((entry) => ({ passwordHash, ...entry })));
  const OWN = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

  it('gives each user their own secret, and every local user the development one', () => {
    expect(webhookSecretsOf(users([{ username: 'alice', webhookSecret: OWN }, { username: 'bob' }]), 'prod', 'users')).toEqual(new Map([['alice', OWN]]));
    expect(webhookSecretsOf(users([{ username: 'bob' }]), 'local', 'users')).toEqual(new Map([['bob', DEVELOPMENT_WEBHOOK_SECRET]]));
  });

  it('refuses the development secret outside the local stage, as the API does', () => {
    expect(() => webhookSecretsOf(users([{ username: 'alice', webhookSecret: DEVELOPMENT_WEBHOOK_SECRET }]), 'prod', 'the users parameter')).toThrow(
      /the users parameter.*development webhook secret/s,
    );
  });
});
