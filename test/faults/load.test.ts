import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, REGION, RESOURCE_NAMES } from '../../local/settings.ts';
import { type StackProcess, startStackProcess } from '../support/local-stack-process.ts';
import { eventually } from '../support/eventually.ts';
import { report } from './support.ts';

const TASKS = 5_000;
const CONCURRENCY = 32;

/**
 * 5,000 adds at concurrency 32 through the whole local stack (serverless-offline, the worker
 * function, the emulators), then a count against the store: one task per submission, each SUCCESS
 * with the right sum.
 */
describe('load on the local stack', () => {
  let stack: StackProcess;

  beforeAll(async () => {
    stack = await startStackProcess({ workers: true });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it(`runs ${TASKS} tasks at concurrency ${CONCURRENCY}: none lost, none duplicated`, { timeout: 600_000 }, async () => {
    const login = await fetch(`${stack.apiUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'doozer', password: 'doozer' }),
    });
    const { token } = (await login.json()) as { token: string };

    const expected = new Map<string, string>();
    const statuses = new Map<number, number>();
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < TASKS) {
          const n = next++;
          const response = await fetch(`${stack.apiUrl}/tasks`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ name: 'add', args: [n, 1] }),
          });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          const task = (await response.json()) as { id: string };
          if (response.ok) expected.set(task.id, String(n + 1));
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;

    const documents = DynamoDBDocumentClient.from(
      new DynamoDBClient({ region: REGION, credentials: LOCAL_CREDENTIALS, endpoint: `http://127.0.0.1:${stack.ports.dynamodb}` }),
    );
    const scanTasks = async () => {
      const items: Record<string, unknown>[] = [];
      for await (const page of paginateScan({ client: documents }, { TableName: RESOURCE_NAMES.table, ConsistentRead: true })) {
        items.push(...(page.Items ?? []).filter((item) => String(item.id).startsWith('task_')));
      }
      return items;
    };
    // Deferred tasks (202) may still be finishing.
    await eventually(async () => expect((await scanTasks()).filter((item) => item.state !== 'SUCCESS')).toEqual([]), {
      timeoutMs: 60_000,
      intervalMs: 1_000,
    });
    const items = await scanTasks();
    documents.destroy();

    // resultJson is the result as JSON text: for these sums, the decimal digits.
    const lost = [...expected].filter(([id, result]) => !items.some((item) => item.id === id && item.resultJson === result)).length;
    const duplicated = items.length - expected.size;
    report(`load ${TASKS} tasks at concurrency ${CONCURRENCY}`, {
      submitted: TASKS,
      ok200: statuses.get(200) ?? 0,
      deferred202: statuses.get(202) ?? 0,
      errors: TASKS - expected.size,
      inStore: items.length,
      lost,
      duplicated,
      tasksPerSecond: Math.round(TASKS / seconds),
    });
    expect(expected.size).toBe(TASKS);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
  });
});
