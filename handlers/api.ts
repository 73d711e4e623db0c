import { handle } from 'hono/aws-lambda';
import { createSsmClient } from '../lib/aws/clients.ts';
import { loadApiSettings } from '../lib/aws/ssm-secrets.ts';
import { createApiDependencies, createLogger, withLambdaContext } from '../lib/dependencies.ts';
import { createApp } from '../lib/http/app.ts';

const logger = createLogger();
// Top-level await: the configuration (and, outside the local stage, the secrets from SSM) is read in
// Lambda's init phase, once per process, before the first request; a bad one fails the init.
const config = await loadApiSettings(process.env, createSsmClient());

/** API Gateway HTTP API -> Hono. Configuration and clients are built once, at cold start. */
export const handler = withLambdaContext(logger, handle(createApp(createApiDependencies(config, logger))));
