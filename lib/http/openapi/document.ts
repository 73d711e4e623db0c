import packageJson from '../../../package.json' with { type: 'json' };
import type { TaskCatalog } from '../../tasks/task-catalog.ts';
import { errorResponses, responseComponents } from './error-responses.ts';
import { HEADERS } from './headers.ts';
import type { JsonSchema } from './json-schema.ts';
import { sharedParameters } from './parameters.ts';
import { apiPaths } from './paths.ts';
import { FIRST_TASK_EXAMPLE, documentSchemas } from './schemas.ts';
import { webhookParameters, webhooks } from './webhooks.ts';

/**
 * The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json`. Every schema in it is
 * generated (`z.toJSONSchema`, JSON Schema 2020-12, which OpenAPI 3.1 uses as is) from the zod
 * schemas that validate requests (request-body.ts, request-params.ts, wait-preference.ts) and
 * describe answers (response-schemas.ts); only the routes, statuses and headers are written in this
 * folder (paths.ts, error-responses.ts, headers.ts, webhooks.ts), and test/unit/openapi.test.ts
 * holds them to what the app really serves.
 */

/**
 * How to call the API from the page that renders this document (Swagger UI at `/docs`), shown at its
 * top: a token first, then the task the first request body example submits. The token's life is the
 * default of DOOZER_JWT_TTL_SECONDS (lib/config.ts), which test/unit/openapi.test.ts checks.
 */
function tryItOutText(catalog: TaskCatalog): string {
  const submit = catalog.get('add')
    ? `its example body, \`${JSON.stringify(FIRST_TASK_EXAMPLE)}\`, answers 200 with \`"result": 21\``
    : 'its example body answers 200 with the task\'s result';
  return [
    '**Try it out on this page:**',
    '1. Open `POST /auth/token` (click **Try it out** if its body cannot be edited yet), put your user name and password ' +
      'in the body (locally, the user `npm start` prints: `doozer` / `doozer` unless you set another), and click **Execute**.',
    '2. Copy the `token` of the answer, without its quotes.',
    '3. Click **Authorize**, paste the token as it is (without `Bearer `, which is added for you), click **Authorize**, then **Close**.',
    `4. Open \`POST /tasks\` (**Try it out** again if need be) and click **Execute**: ${submit}. ` +
      'Paste the `id` of an answer into `GET /tasks/{id}` to look the task up again.',
    '',
    'The token lasts `expiresIn` seconds (an hour unless the deployment sets another) and is kept only in this browser tab; ' +
      'once it has expired (a 401), get another the same way.',
  ].join('\n');
}

/** Builds the document for the tasks of `catalog`. Pure: `openApiJson()` keeps a serialized copy. */
export function buildOpenApiDocument(catalog: TaskCatalog): JsonSchema {
  const schemas = documentSchemas(catalog);
  const webhookHeaders = webhookParameters();
  const errorAnswers = errorResponses(catalog);
  return {
    openapi: '3.1.0',
    info: {
      title: 'doozer',
      version: packageJson.version,
      description:
        'Run named tasks: get the answer within seconds, or a task id to look up later.\n\n' +
        tryItOutText(catalog) +
        '\n\nOutside this page, send the token as `Authorization: Bearer <token>`. ' +
        'Every error has one shape, `{"error":{"code","message"}}`; an unknown route is a 404 `not_found`, ' +
        'and a known path asked with another method a 405 `method_not_allowed` with `Allow` (OPTIONS: 204 with `Allow`). ' +
        'Each user has a request rate and a limit of open tasks: every answer behind a token carries `RateLimit-Limit`, ' +
        '`RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy`, and past a limit the answer is a 429 ' +
        '`too_many_requests` with `Retry-After`. A task submitted with a `callbackUrl` is POSTed there, signed, when it ends: ' +
        'see `webhooks`.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'tasks', description: 'Submit tasks (now, later, or in batches), look them up, list and cancel them.' },
      { name: 'auth', description: 'Bearer tokens.' },
      { name: 'meta', description: 'Health, readiness, this document, and the web pages.' },
      { name: 'webhooks', description: 'What doozer sends to your `callbackUrl`.' },
    ],
    paths: apiPaths(schemas, errorAnswers),
    webhooks: webhooks(schemas, webhookHeaders),
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token from `POST /auth/token`.' },
      },
      schemas,
      parameters: { ...sharedParameters(), ...webhookHeaders },
      headers: HEADERS,
      responses: responseComponents(errorAnswers),
    },
  };
}

const cached = new WeakMap<TaskCatalog, string>();

/** The document as JSON, built on the first call (not at cold start) and kept for the instance's life. */
export function openApiJson(catalog: TaskCatalog): string {
  let json = cached.get(catalog);
  if (json === undefined) {
    json = JSON.stringify(buildOpenApiDocument(catalog));
    cached.set(catalog, json);
  }
  return json;
}
