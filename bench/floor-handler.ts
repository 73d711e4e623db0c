import { handle } from 'hono/aws-lambda';
import { createSsmClient } from '../lib/aws/clients.ts';
import { loadApiSettings } from '../lib/aws/ssm-secrets.ts';
import { createApiDependencies, createLogger, withLambdaContext } from '../lib/dependencies.ts';
import { createApp } from '../lib/http/app.ts';
import { withFloorRoute } from './floor.ts';

/**
 * The benchmark's floor function: handlers/api.ts's app, from the same configuration and
 * dependencies, with `POST /bench/floor` added. Only the bench's stack runs it
 * (serverless.bench.mjs), in the same serverless-offline process as the api function, so a floor
 * request goes through the same gateway, HTTP server and Lambda emulation as `POST /tasks`.
 */
const logger = createLogger();
const config = await loadApiSettings(process.env, createSsmClient());
const deps = createApiDependencies(config, logger);

export const handler = withLambdaContext(logger, handle(withFloorRoute(createApp(deps), deps)));
