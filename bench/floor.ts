import type { Hono } from 'hono';
import { InvalidRequestError } from '../lib/errors.ts';
import type { AppDependencies } from '../lib/http/app.ts';
import type { AppEnv } from '../lib/http/app-env.ts';
import { authMiddleware } from '../lib/http/auth-middleware.ts';
import { limitBody } from '../lib/http/request-body.ts';
import { taskBodyParsers } from '../lib/http/task-bodies.ts';
import { runTask } from '../lib/tasks/task-runner.ts';

/** The benchmark's floor, which every figure of `npm run bench` is read against. */
export const FLOOR_PATH = '/bench/floor';

/**
 * Adds `POST /bench/floor` to the API built by `createApp`: the same bearer auth, rate admission,
 * body limit and task validation as `POST /tasks` (the app's own middleware, built from the same
 * dependencies), then the task run inline. No store, no queue, no wait: what a request costs on this
 * stack before any of the work a task needs. The product never serves it; only the bench's
 * function does (bench/floor-handler.ts, in the stack serverless.bench.mjs describes).
 *
 * Added after `createApp` has registered its fallbacks: Hono tries every route in order, so the
 * new path still answers, and the app's 404, error shape and access log apply to it as to any
 * other. Only other methods on it answer 404 rather than 405 (the app lists its paths' methods
 * when it is built).
 */
export function withFloorRoute(app: Hono<AppEnv>, deps: AppDependencies): Hono<AppEnv> {
  const { requireUser } = authMiddleware(deps);
  const { taskBody } = taskBodyParsers(deps.catalog);
  app.post(FLOOR_PATH, requireUser, limitBody, taskBody, async (c) => {
    const task = c.get('body');
    const outcome = await runTask(task, { taskId: 'bench-floor', attempt: 1, saveProgress: async () => true });
    if (outcome.state !== 'SUCCESS') throw new InvalidRequestError(`the task did not succeed: ${outcome.state}`);
    return c.json({ ...task.input, state: 'SUCCESS', result: outcome.result });
  });
  return app;
}
