// Builds every file the web function serves: the page (web/index.html, its script from web/src and
// its stylesheet), and the API docs (web/docs.html with Swagger UI's own files from swagger-ui-dist).
// Nothing is fetched from anywhere: the page works with only the API reachable. Plain JavaScript so
// both the esbuild plugin that bakes the files into the web function (infra/esbuild-plugins.cjs) and
// the tests can load it without a TypeScript loader.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants as zlib } from 'node:zlib';
import * as esbuild from 'esbuild';

const WEB = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const SWAGGER_UI = dirname(require.resolve('swagger-ui-dist/package.json'));
const SWAGGER_UI_VERSION = require('swagger-ui-dist/package.json').version;

/** Browsers the page's script and stylesheet are built for: the last two years of evergreen ones. */
const BROWSERS = ['chrome120', 'firefox121', 'safari17', 'edge120'];

// Content names carry a hash of the content (or Swagger UI's version), so they can be cached for
// good; the two HTML documents are looked at again on every load (ETag) and name the current ones.
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
/**
 * The pages' Content-Security-Policy: each runs only its own scripts and talks only to its own
 * origin, where the token is used. Swagger UI (on /docs) also sets inline styles (React style
 * attributes); both draw icons as data: images.
 */
const policy = (styleSources) =>
  [
    "default-src 'none'",
    "script-src 'self'",
    `style-src ${styleSources}`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
const PAGE_POLICY = policy("'self'");
const DOCS_POLICY = policy("'self' 'unsafe-inline'");

/**
 * @typedef {object} BuiltAsset
 * @property {string} path            where it is served (GET)
 * @property {string} contentType
 * @property {string} cacheControl
 * @property {Record<string, string>} headers  more response headers (security policy)
 * @property {Buffer} body            the file as served without compression
 */

/** @returns {Promise<BuiltAsset[]>} every file the web function serves, the HTML documents first. */
export async function buildWebAssets() {
  const built = await esbuild.build({
    absWorkingDir: WEB,
    entryPoints: { app: 'src/main.ts', docs: 'src/docs.ts', style: 'app.css' },
    bundle: true,
    minify: true,
    format: 'esm',
    target: BROWSERS,
    platform: 'browser',
    write: false,
    outdir: 'out',
    entryNames: '[name]-[hash]',
    legalComments: 'none',
    logLevel: 'silent',
  });
  /** @type {Map<string, BuiltAsset>} */
  const files = new Map();
  for (const output of built.outputFiles) {
    const name = output.path.slice(output.path.lastIndexOf('/') + 1);
    const entry = name.slice(0, name.lastIndexOf('-'));
    files.set(entry, asset(`/ui/${name}`, typeOf(name), IMMUTABLE, Buffer.from(output.contents)));
  }

  const swagger = `/docs/swagger-ui/${SWAGGER_UI_VERSION}`;
  const swaggerFiles = await Promise.all(
    [
      ['swagger-ui-bundle.js', (text) => withoutSourceMap(text)],
      ['swagger-ui.css', (text) => withoutSourceMap(text)],
      ['swagger-ui-bundle.js.LICENSE.txt', (text) => text],
      ['LICENSE', (text) => text],
      ['NOTICE', (text) => text],
    ].map(async ([name, transform]) => {
      const text = transform(await readFile(join(SWAGGER_UI, name), 'utf8'));
      return asset(`${swagger}/${name}`, typeOf(name), IMMUTABLE, Buffer.from(text));
    }),
  );

  const fill = async (file, values) => {
    let html = await readFile(join(WEB, file), 'utf8');
    for (const [key, value] of Object.entries(values)) html = html.replaceAll(`%${key}%`, value);
    const unfilled = html.match(/%[A-Z_]+%/);
    if (unfilled) throw new Error(`web/${file}: nothing fills ${unfilled[0]}`);
    return Buffer.from(html);
  };
  const pathOf = (entry) => required(files.get(entry), entry).path;
  const page = asset('/', 'text/html; charset=utf-8', REVALIDATE, await fill('index.html', { APP_JS: pathOf('app'), APP_CSS: pathOf('style') }), {
    'content-security-policy': PAGE_POLICY,
  });
  const docs = asset(
    '/docs',
    'text/html; charset=utf-8',
    REVALIDATE,
    await fill('docs.html', {
      DOCS_JS: pathOf('docs'),
      APP_CSS: pathOf('style'),
      SWAGGER_UI_JS: `${swagger}/swagger-ui-bundle.js`,
      SWAGGER_UI_CSS: `${swagger}/swagger-ui.css`,
    }),
    { 'content-security-policy': DOCS_POLICY },
  );
  return [page, docs, ...files.values(), ...swaggerFiles];
}

/**
 * The assets as the source of an ES module (what `import assets from 'doozer:web-assets'` becomes in
 * the web function's bundle): each file gzipped once here, at build time, so no request pays for it.
 * @param {BuiltAsset[]} assets
 */
export function assetsModule(assets) {
  const entries = assets.map(({ body, ...rest }) => ({ ...rest, etag: etagOf(body), gzip: gzip(body).toString('base64') }));
  return `export default ${JSON.stringify(entries)};\n`;
}

/** The files the build reads: esbuild's watch list, so a change to them rebuilds the function. */
export const WATCHED_DIRECTORY = WEB;

/** @param {Buffer} body */
function etagOf(body) {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** @param {Buffer} body */
function gzip(body) {
  return gzipSync(body, { level: zlib.Z_BEST_COMPRESSION });
}

function asset(path, contentType, cacheControl, body, headers = {}) {
  return { path, contentType, cacheControl, headers: { ...COMMON_HEADERS, ...headers }, body };
}

function typeOf(name) {
  if (name.endsWith('.js')) return 'text/javascript; charset=utf-8';
  if (name.endsWith('.css')) return 'text/css; charset=utf-8';
  return 'text/plain; charset=utf-8';
}

// The maps are not served: the comment would only make a browser's developer tools ask for a 404.
function withoutSourceMap(text) {
  return text.replace(/\n?\/[/*][#@] sourceMappingURL=[^\n]*$/, '');
}

function required(value, name) {
  if (value === undefined) throw new Error(`the web build made no ${name} file`);
  return value;
}
