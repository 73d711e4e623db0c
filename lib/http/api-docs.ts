import type { Context } from 'hono';

/**
 * `GET /docs`: Swagger UI rendering `/openapi.json`. The page is a few lines of HTML; the browser
 * loads Swagger UI itself from jsDelivr, so nothing of it is in the Lambda bundle.
 *
 * The scripts run on the API's origin, where a user may paste a token, so the version is pinned and
 * each file carries a Subresource Integrity hash: a changed file on the CDN is refused by the browser,
 * not run. jsDelivr serves the npm package's files as published, and a published version never
 * changes, so the hashes hold for good. To move to another version, take the hashes from its package:
 *   npm pack swagger-ui-dist@<version> && tar -xzf swagger-ui-dist-<version>.tgz
 *   openssl dgst -sha384 -binary package/swagger-ui-bundle.js | openssl base64 -A   (and swagger-ui.css)
 * Swagger UI's online validator, which would send the document's URL to swagger.io, is turned off.
 */
export const SWAGGER_UI_VERSION = '5.35.0';

const ASSETS = `https://cdn.jsdelivr.net/npm/swagger-ui-dist@${SWAGGER_UI_VERSION}`;
const SCRIPT_INTEGRITY = 'sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9';
const STYLE_INTEGRITY = 'sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I';

/** Where the page finds the document; root-relative, like the document's own server URL. */
export const OPENAPI_PATH = '/openapi.json';

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>doozer API</title>
    <link rel="stylesheet" href="${ASSETS}/swagger-ui.css" integrity="${STYLE_INTEGRITY}" crossorigin="anonymous" referrerpolicy="no-referrer" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${ASSETS}/swagger-ui-bundle.js" integrity="${SCRIPT_INTEGRITY}" crossorigin="anonymous" referrerpolicy="no-referrer"></script>
    <script>
      window.ui = SwaggerUIBundle({ url: '${OPENAPI_PATH}', dom_id: '#swagger-ui', validatorUrl: 'none', deepLinking: true });
    </script>
  </body>
</html>
`;

/** `GET /docs`. */
export function serveApiDocs(c: Context): Response {
  return c.html(PAGE);
}
