/**
 * `npm run webhook-receiver`, in-process for what it answers and logs, and as the real script for
 * what a developer meets at its edges: a taken port, Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseReceiverCli, type ReceivedDelivery, startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver.ts';
import { DEVELOPMENT_WEBHOOK_SECRET, signWebhook } from '../../lib/webhooks/signing.ts';
import { eventually } from '../support/eventually.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TASK_ID = 'task_0f8fad5b-d9cb-469f-a165-70867728950e';
const BODY = JSON.stringify({ id: TASK_ID, name: 'add', state: 'SUCCESS', result: 3 });

interface Running {
  readonly receiver: WebhookReceiver;
  readonly lines: string[];
  readonly deliveries: ReceivedDelivery[];
}

const started: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((receiver) => receiver.close()));
});

async function start(failFirst = 0): Promise<Running> {
  const lines: string[] = [];
  const deliveries: ReceivedDelivery[] = [];
  const receiver = await startWebhookReceiver({
    port: 0,
    secret: DEVELOPMENT_WEBHOOK_SECRET,
    failFirst,
    log: (line) => lines.push(line),
    onDelivery: (delivery) => deliveries.push(delivery),
  });
  started.push(receiver);
  return { receiver, lines, deliveries };
}

async function deliver(url: string, body: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  await response.arrayBuffer();
  return response.status;
}

describe('startWebhookReceiver', () => {
  it('listens on 127.0.0.1 and gives the callbackUrl to use', async () => {
    const { receiver } = await start();
    expect(receiver.url).toBe(`http://127.0.0.1:${receiver.port}/webhooks`);
  });

  it('answers 204 to a signed delivery and logs it with the task and "signature ok"', async () => {
    const { receiver, lines, deliveries } = await start();
    const headers = signWebhook(DEVELOPMENT_WEBHOOK_SECRET, 'msg_0f8fad5b', new Date(), BODY);
    expect(await deliver(receiver.url, BODY, headers)).toBe(204);
    expect(deliveries).toEqual([
      { webhookId: 'msg_0f8fad5b', taskId: TASK_ID, state: 'SUCCESS', signatureError: undefined, attempt: 1, status: 204 },
    ]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}msg_0f8fad5b {2}task_0f8fad5b-\S+ {2}SUCCESS {2}signature ok {2}attempt 1 -> 204$/);
  });

  it('logs a tampered delivery as INVALID, with the reason', async () => {
    const { receiver, lines, deliveries } = await start();
    const headers = signWebhook(DEVELOPMENT_WEBHOOK_SECRET, 'msg_1', new Date(), BODY);
    await deliver(receiver.url, BODY.replace('"result":3', '"result":4'), headers);
    expect(deliveries[0]?.signatureError).toBe('No matching signature found');
    expect(lines[0]).toContain('signature INVALID (No matching signature found)');
  });

  it('logs a delivery signed with another secret, or not signed, as INVALID', async () => {
    const { receiver, deliveries } = await start();
    const other = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    await deliver(receiver.url, BODY, signWebhook(other, 'msg_1', new Date(), BODY));
    await deliver(receiver.url, BODY, {});
    expect(deliveries.map((delivery) => delivery.signatureError)).toEqual(['No matching signature found', 'Missing required headers']);
  });

  it('with failFirst 2, answers 500, 500 and then 204 to one webhook-id, counting the attempts', async () => {
    const { receiver, deliveries } = await start(2);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      statuses.push(await deliver(receiver.url, BODY, signWebhook(DEVELOPMENT_WEBHOOK_SECRET, 'msg_a', new Date(), BODY)));
    }
    expect(statuses).toEqual([500, 500, 204]);
    expect(deliveries.map(({ attempt, status }) => [attempt, status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 204],
    ]);
    // Each webhook-id is counted on its own.
    expect(await deliver(receiver.url, BODY, signWebhook(DEVELOPMENT_WEBHOOK_SECRET, 'msg_b', new Date(), BODY))).toBe(500);
  });

  it('rejects with EADDRINUSE when the port is taken', async () => {
    const { receiver } = await start();
    await expect(
      startWebhookReceiver({ port: receiver.port, secret: DEVELOPMENT_WEBHOOK_SECRET, log: () => {} }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('parseReceiverCli', () => {
  it('defaults to port 3005 and the development secret', () => {
    expect(parseReceiverCli([], {})).toEqual({ port: 3005, failFirst: 0, secret: DEVELOPMENT_WEBHOOK_SECRET, secretName: 'the development secret' });
  });

  it('takes the port from the environment, and --port over it', () => {
    expect(parseReceiverCli([], { DOOZER_WEBHOOK_RECEIVER_PORT: '4000' })).toMatchObject({ port: 4000 });
    expect(parseReceiverCli(['--port', '4001', '--fail', '3'], { DOOZER_WEBHOOK_RECEIVER_PORT: '4000' })).toMatchObject({ port: 4001, failFirst: 3 });
  });

  it('takes DOOZER_WEBHOOK_SECRET and names it without showing it', () => {
    const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    expect(parseReceiverCli([], { DOOZER_WEBHOOK_SECRET: secret })).toMatchObject({ secret, secretName: 'DOOZER_WEBHOOK_SECRET' });
  });

  it('lists every fault', () => {
    const parsed = parseReceiverCli(['--port', 'x', '--fail=-1'], { DOOZER_WEBHOOK_SECRET: 'nope' });
    expect(parsed).toEqual({ errors: [expect.stringContaining('--port'), expect.stringContaining('--fail'), expect.stringContaining('DOOZER_WEBHOOK_SECRET')] });
  });

  it('refuses unknown flags', () => {
    expect(parseReceiverCli(['--verbose'], {})).toMatchObject({ errors: [expect.stringContaining('--verbose')] });
  });
});

describe('the webhook-receiver script', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  function run(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; stdout: () => string; stderr: () => string } {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/webhook-receiver.ts', ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DOOZER_WEBHOOK_SECRET: undefined, DOOZER_WEBHOOK_RECEIVER_PORT: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    return { child, stdout: () => stdout, stderr: () => stderr };
  }

  it('exits 1 with a clear message when its port is taken', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const { port } = taken.address() as AddressInfo;
      const { child, stderr } = run(['--port', String(port)]);
      const [code] = await once(child, 'exit');
      expect(code).toBe(1);
      expect(stderr()).toContain(`port ${port} on 127.0.0.1 is taken`);
    } finally {
      taken.close();
    }
  });

  it('exits 2 with the usage on a bad flag', async () => {
    const { child, stderr } = run(['--fail', 'many']);
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr()).toContain('usage: npm run webhook-receiver');
  });

  it('prints the callbackUrl and the secret it checks with, takes deliveries, and stops cleanly on SIGTERM', async () => {
    const { child, stdout } = run(['--port', '0', '--fail', '1']);
    const url = await eventually(
      () => {
        const found = /"callbackUrl": "(http:\/\/127\.0\.0\.1:\d+\/webhooks)"/.exec(stdout());
        if (!found?.[1]) throw new Error(`no callbackUrl yet in ${JSON.stringify(stdout())}`);
        return found[1];
      },
      { timeoutMs: 20_000 },
    );
    expect(stdout()).toContain('checking signatures with the development secret');
    expect(await deliver(url, BODY, signWebhook(DEVELOPMENT_WEBHOOK_SECRET, 'msg_x', new Date(), BODY))).toBe(500);
    await eventually(() => expect(stdout()).toContain('signature ok  attempt 1 -> 500'), { timeoutMs: 5_000 });
    child.kill('SIGTERM');
    const [code, signal] = await once(child, 'exit');
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});
