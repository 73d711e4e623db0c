import assets from 'doozer:web-assets';
import { handle } from 'hono/aws-lambda';
import { createWebApp, decodeAssets } from '../lib/web/web-app.ts';

/** API Gateway HTTP API -> the web page and API docs, their files baked into this bundle at build time. */
export const handler = handle(createWebApp(decodeAssets(assets)));
