import { handle } from 'hono/aws-lambda';
import { loadApiConfig } from '../lib/config.ts';
import { createApiDependencies } from '../lib/dependencies.ts';
import { createApp } from '../lib/http/app.ts';

/** API Gateway HTTP API -> Hono. Configuration and clients are built once, at cold start. */
export const handler = handle(createApp(createApiDependencies(loadApiConfig(process.env))));
