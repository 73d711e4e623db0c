import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, REGION, RESOURCE_NAMES } from '../../local/settings.ts';
import { eventually } from '../support/eventually.ts';
import { type StackProcess, devUserToken, freeStackPorts, isListening, processesInGroup, processesMatching, startProcess, startStackProcess } from '../support/local-stack-process.ts';

/**
 * `npm start` as a program users kill: run through npm in a process group of its own, as a terminal
 * runs it, then killed every way a user or a crash would. Nothing may outlive it, a taken port must
 * stop a second start at once, a part that dies must take the whole stack down, and the tasks it
 * was given must survive a restart.
 */
describe('npm start under kill -9, taken ports and a dying child', () => {
  let stack: StackProcess;

  beforeAll(async () => {
    stack = await startStackProcess({ workers: true, viaNpm: true });
  });

  afterAll(async () => {
    if (stack && stack.child.exitCode === null && stack.child.signalCode === null) process.kill(-stack.child.pid!, 'SIGKILL');
    await stack?.stop().catch(() => {});
  });

  it('refuses a second npm start on the same ports at once, naming them, and leaves the first serving', async () => {
    const second = startProcess(['npm', 'start', '--silent'], { ...stack.env, DOOZER_DATA_DIR: join(stack.dataDir, 'second') }, 'never', {
      viaNpm: true,
      timeoutMs: 30_000,
    });
    const error = (await second.then(
      () => undefined,
      (rejection: unknown) => rejection,
    )) as Error;
    expect(error.message).toMatch(/exited with 1 before it was ready/);
    expect(error.message).toContain(`${stack.ports.api} (DOOZER_API_PORT)`);
    expect(error.message).toContain(`${stack.ports.lambda} (DOOZER_LAMBDA_PORT)`);
    expect(error.message).not.toContain('doozer is running locally');
    expect((await fetch(`${stack.apiUrl}/ready`)).status).toBe(200);
  });

  it('refuses a second npm start on other ports but the same data folder, leaving nothing behind', async () => {
    const { env: otherPorts, lambda } = await freeStackPorts();
    const second = startProcess(['npm', 'start', '--silent'], { ...otherPorts, DOOZER_DATA_DIR: stack.dataDir }, 'never', {
      viaNpm: true,
      timeoutMs: 30_000,
    });
    const error = (await second.then(
      () => undefined,
      (rejection: unknown) => rejection,
    )) as Error;
    expect(error.message).toMatch(/exited with 1 before it was ready/);
    expect(error.message).toContain(`the data folder ${stack.dataDir} is in use by another doozer stack (pid `);
    expect(processesMatching(`--lambdaPort ${lambda}`)).toEqual([]);
    expect((await fetch(`${stack.apiUrl}/ready`)).status).toBe(200);
  });

  it('stops a start whose api function cannot start (a bad setting), naming the setting, and leaves nothing behind', async () => {
    const { env: otherPorts, lambda } = await freeStackPorts();
    const dataDir = await mkdtemp(join(tmpdir(), 'doozer-misconfigured-'));
    try {
      const broken = startProcess(['npm', 'start', '--silent'], { ...otherPorts, DOOZER_DATA_DIR: dataDir, DOOZER_RATE_LIMIT_BURST: 'abc' }, 'never', {
        viaNpm: true,
        timeoutMs: 60_000,
      });
      const error = (await broken.then(
        () => undefined,
        (rejection: unknown) => rejection,
      )) as Error;
      expect(error.message).toMatch(/exited with 1 before it was ready/);
      expect(error.message).toContain('the api function failed to start');
      expect(error.message).toContain('DOOZER_RATE_LIMIT_BURST');
      await eventually(() => expect(processesMatching(`--lambdaPort ${lambda}`)).toEqual([]), { timeoutMs: 10_000 });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('leaves no process and frees every port within 5 s of kill -9 to its process group', async () => {
    const offline = `--lambdaPort ${stack.ports.lambda}`;
    expect(processesMatching(offline)).toHaveLength(1);
    process.kill(-stack.child.pid!, 'SIGKILL');
    await eventually(
      async () => {
        expect(processesMatching(offline)).toEqual([]);
        expect(processesInGroup(stack.child.pid!)).toEqual([]);
        for (const port of Object.values(stack.ports)) expect(await isListening(port), `port ${port}`).toBe(false);
      },
      { timeoutMs: 5_000, intervalMs: 100 },
    );
  });
});

describe.each([
  ['SIGTERM', 'stops everything'],
  ['SIGINT', 'stops everything'],
  ['SIGKILL', 'stops everything once it sees its parent gone'],
] as const)("npm start when npm's own pid gets %s", (signal, outcome) => {
  it(`${outcome}: no process left, every port free within 5 s`, async () => {
    const stack = await startStackProcess({ workers: true, viaNpm: true });
    try {
      process.kill(stack.child.pid!, signal);
      await eventually(
        async () => {
          expect(processesMatching(`--lambdaPort ${stack.ports.lambda}`)).toEqual([]);
          expect(processesInGroup(stack.child.pid!)).toEqual([]);
          for (const port of Object.values(stack.ports)) expect(await isListening(port), `port ${port}`).toBe(false);
        },
        { timeoutMs: 5_000, intervalMs: 100 },
      );
    } finally {
      if (processesInGroup(stack.child.pid!).length > 0) process.kill(-stack.child.pid!, 'SIGKILL');
      await stack.stop().catch(() => {});
    }
  });
});

const EXPIRED_PROBE = 'login#expired-probe';

/** A DynamoDB client for the stack's embedded dynalite. */
function documentsOf(stack: StackProcess): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: REGION, credentials: LOCAL_CREDENTIALS, endpoint: `http://127.0.0.1:${stack.ports.dynamodb}` }),
  );
}

describe('npm start when serverless-offline dies, and its data across restarts', () => {
  let dataDir: string;
  let stack: StackProcess | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'doozer-restart-'));
  });

  afterAll(async () => {
    await stack?.stop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  });

  async function lookup(apiUrl: string, id: string): Promise<Response> {
    return fetch(`${apiUrl}/tasks/${id}`, { headers: { authorization: `Bearer ${await devUserToken(apiUrl)}` } });
  }

  let doneId: string;
  let openId: string;

  it('stops the whole stack with a message and a non-zero exit when serverless-offline dies on its own', async () => {
    stack = await startStackProcess({ workers: false, dataDir });
    const authorization = `Bearer ${await devUserToken(stack.apiUrl)}`;
    const submit = async (args: number[]) => {
      const response = await fetch(`${stack!.apiUrl}/tasks?wait=0`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'add', args }),
      });
      return ((await response.json()) as { id: string }).id;
    };
    [doneId, openId] = [await submit([1, 2]), await submit([3, 4])];
    // One of the two ends before the crash, with workers started for it alone.
    const workers = await stack.startWorkers();
    await eventually(async () => expect(await (await lookup(stack!.apiUrl, doneId)).json()).toMatchObject({ state: 'SUCCESS' }), {
      timeoutMs: 15_000,
    });
    await workers.stop();
    openId = await submit([5, 6]);

    // An item that expired while the stack was down: the next start's TTL pass deletes it.
    const documents = documentsOf(stack);
    await documents.send(new PutCommand({ TableName: RESOURCE_NAMES.table, Item: { id: EXPIRED_PROBE, expiresAt: Math.floor(Date.now() / 1000) - 1 } }));
    documents.destroy();

    const [line] = processesMatching(`--lambdaPort ${stack.ports.lambda}`);
    process.kill(Number(line!.trim().split(/\s+/)[0]), 'SIGKILL');
    expect(await stack.exited).toBe(1);
    expect(stack.output()).toContain('serverless-offline exited on its own (SIGKILL); stopping the whole stack');
    for (const port of Object.values(stack.ports)) expect(await isListening(port), `port ${port}`).toBe(false);
  });

  it('keeps its tasks across the restart, ends the ones left open, and deletes what expired, without --fresh', async () => {
    stack = await startStackProcess({ workers: true, dataDir });
    expect(stack.output()).toMatch(/queued again [1-9]\d* open tasks? kept from the last run/);
    const done = await lookup(stack.apiUrl, doneId);
    expect(await done.json()).toMatchObject({ id: doneId, state: 'SUCCESS', result: 3 });
    await eventually(async () => expect(await (await lookup(stack!.apiUrl, openId)).json()).toMatchObject({ state: 'SUCCESS', result: 11 }), {
      timeoutMs: 15_000,
    });
    const documents = documentsOf(stack);
    await eventually(
      async () => expect((await documents.send(new GetCommand({ TableName: RESOURCE_NAMES.table, Key: { id: EXPIRED_PROBE } }))).Item).toBeUndefined(),
      { timeoutMs: 10_000 },
    );
    documents.destroy();
    expect(await stack.stop()).toBe(0);
  });

  it('starts empty with --fresh', async () => {
    stack = await startStackProcess({ workers: false, dataDir, args: ['--fresh'] });
    expect((await lookup(stack.apiUrl, doneId)).status).toBe(404);
    expect(await stack.stop()).toBe(0);
  });
});
