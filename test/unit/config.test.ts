import { beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../lib/auth/passwords.ts';
import {
  ConfigError,
  DEVELOPMENT_JWT_SECRET,
  DEVELOPMENT_USERNAME,
  loadApiConfig,
  loadWorkerConfig,
} from '../../lib/config.ts';

let passwordHash: string;
let validEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  passwordHash = await hashPassword('pw', { N: 16, r: 8, p: 1 });
  validEnv = {
    DOOZER_STAGE: 'local',
    DOOZER_TABLE_NAME: 'tasks',
    DOOZER_QUEUE_URL: 'http://localhost:9324/000000000000/tasks',
    DOOZER_JWT_SECRET: 's'.repeat(32),
    DOOZER_USERS: JSON.stringify([{ username: 'alice', passwordHash }]),
  };
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
      waitSchedule: { initialDelayMs: 20, multiplier: 2, maxDelayMs: 250 },
      benchFloor: false,
    });
  });

  it('reads every optional setting when given', () => {
    const config = loadApiConfig({
      ...validEnv,
      AWS_REGION: 'eu-west-1',
      DOOZER_STAGE: 'prod',
      DOOZER_DYNAMODB_ENDPOINT: 'http://localhost:8000',
      DOOZER_SQS_ENDPOINT: 'http://localhost:9324',
      DOOZER_JWT_TTL_SECONDS: '600',
      DOOZER_TASK_TTL_DAYS: '2',
    });
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
    for (const name of ['DOOZER_TABLE_NAME', 'DOOZER_QUEUE_URL', 'DOOZER_JWT_SECRET', 'DOOZER_USERS']) {
      expect(message).toContain(name);
    }
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
      loadApiConfig({ DOOZER_TABLE_NAME: '', DOOZER_QUEUE_URL: '', DOOZER_JWT_SECRET: '', DOOZER_USERS: '' }),
    );
    for (const name of ['DOOZER_TABLE_NAME', 'DOOZER_QUEUE_URL', 'DOOZER_JWT_SECRET', 'DOOZER_USERS']) {
      expect(message).toContain(name);
    }
  });
});

describe('loadApiConfig outside the local stage', () => {
  const usersNamed = (...names: string[]) => JSON.stringify(names.map((username) => ({ username, passwordHash })));

  it('refuses the development JWT secret, naming DOOZER_JWT_SECRET and the stage but not the secret', () => {
    const { message } = configErrorOf(() =>
      loadApiConfig({ ...validEnv, DOOZER_STAGE: 'prod', DOOZER_JWT_SECRET: DEVELOPMENT_JWT_SECRET }),
    );
    expect(message).toMatch(/DOOZER_JWT_SECRET: is the development secret, which only the local stage may use/);
    expect(message).toContain('"prod"');
    expect(message).not.toContain(DEVELOPMENT_JWT_SECRET);
  });

  it('refuses the development user, saying that the rule is about the username doozer', () => {
    const { message } = configErrorOf(() =>
      loadApiConfig({ ...validEnv, DOOZER_STAGE: 'prod', DOOZER_USERS: usersNamed('alice', DEVELOPMENT_USERNAME) }),
    );
    expect(DEVELOPMENT_USERNAME).toBe('doozer');
    expect(message).toMatch(/DOOZER_USERS: lists the user "doozer", the development user/);
    expect(message).toContain('only the local stage may have a user of that name');
  });

  it('refuses a JWT secret shorter than 32 characters on every stage', () => {
    for (const stage of ['prod', 'local']) {
      const { message } = configErrorOf(() =>
        loadApiConfig({ ...validEnv, DOOZER_STAGE: stage, DOOZER_JWT_SECRET: 's'.repeat(31) }),
      );
      expect(message).toContain('DOOZER_JWT_SECRET: must be at least 32 characters');
    }
  });

  it('lists the development settings together with every other problem in one ConfigError', () => {
    const { message } = configErrorOf(() =>
      loadApiConfig({
        ...validEnv,
        DOOZER_STAGE: 'staging',
        DOOZER_JWT_SECRET: DEVELOPMENT_JWT_SECRET,
        DOOZER_USERS: usersNamed(DEVELOPMENT_USERNAME),
        DOOZER_QUEUE_URL: 'not a url',
      }),
    );
    expect(message).toContain('DOOZER_QUEUE_URL');
    expect(message).toContain('DOOZER_JWT_SECRET: is the development secret');
    expect(message).toContain('DOOZER_USERS: lists the user "doozer"');
    expect(message).toContain('"staging"');
  });

  it('still refuses the development secret when DOOZER_USERS is not valid JSON', () => {
    const { message } = configErrorOf(() =>
      loadApiConfig({ ...validEnv, DOOZER_STAGE: 'prod', DOOZER_JWT_SECRET: DEVELOPMENT_JWT_SECRET, DOOZER_USERS: 'doozer' }),
    );
    expect(message).toContain('DOOZER_JWT_SECRET: is the development secret');
    expect(message).toContain('DOOZER_USERS: must be a JSON array');
  });

  it('treats the stage name exactly: "Local" is not the local stage', () => {
    expect(() =>
      loadApiConfig({ ...validEnv, DOOZER_STAGE: 'Local', DOOZER_JWT_SECRET: DEVELOPMENT_JWT_SECRET }),
    ).toThrow(ConfigError);
  });

  it('accepts a user whose name only resembles the development user', () => {
    const config = loadApiConfig({ ...validEnv, DOOZER_STAGE: 'prod', DOOZER_USERS: usersNamed('doozer-ops', 'Doozer2') });
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

  it('refuses the benchmark floor route (DOOZER_BENCH_FLOOR=true), naming the setting and the stage', () => {
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_STAGE: 'prod', DOOZER_BENCH_FLOOR: 'true' }));
    expect(message).toMatch(/DOOZER_BENCH_FLOOR: turns on the benchmark's floor route, which only the local stage may serve/);
    expect(message).toContain('"prod"');
    expect(loadApiConfig({ ...validEnv, DOOZER_STAGE: 'prod', DOOZER_BENCH_FLOOR: 'false' }).benchFloor).toBe(false);
  });

  it('turns the benchmark floor route on for the local stage only when DOOZER_BENCH_FLOOR is true', () => {
    expect(loadApiConfig({ ...validEnv, DOOZER_STAGE: 'local', DOOZER_BENCH_FLOOR: 'true' }).benchFloor).toBe(true);
    expect(loadApiConfig({ ...validEnv, DOOZER_STAGE: 'local', DOOZER_BENCH_FLOOR: '' }).benchFloor).toBe(false);
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_BENCH_FLOOR: 'yes' }));
    expect(message).toContain('DOOZER_BENCH_FLOOR: must be true or false');
  });

  it.each([
    ['unset', undefined],
    ['empty (serverless.yml for an unset value)', ''],
  ])('refuses to start with the stage %s, since the stage decides the safety checks', (_label, stage) => {
    const { message } = configErrorOf(() => loadApiConfig({ ...validEnv, DOOZER_STAGE: stage }));
    expect(message).toContain('DOOZER_STAGE');
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
