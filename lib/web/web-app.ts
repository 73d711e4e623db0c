import { gunzipSync } from 'node:zlib';
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../errors.ts';

/** One file the web function serves, as web/build-assets.mjs made it (gzipped at build time). */
export interface WebAsset {
  readonly path: string;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly etag: string;
  readonly gzip: Uint8Array;
}

/** The same, as the generated module holds it: the gzipped bytes in base64. */
export type EncodedWebAsset = Omit<WebAsset, 'gzip'> & { readonly gzip: string };

export function decodeAssets(encoded: readonly EncodedWebAsset[]): WebAsset[] {
  return encoded.map((asset) => ({ ...asset, gzip: Buffer.from(asset.gzip, 'base64') }));
}

/**
 * The web function: the page at `/`, the API docs at `/docs`, and the files they load, all from the
 * deployment itself. It knows no user and reads no store; the page's script talks to the API.
 * A client that takes gzip (every browser) gets the bytes compressed at build time; any other gets
 * them inflated once per instance. ETags let a reload of an HTML document cost a 304.
 */
export function createWebApp(assets: readonly WebAsset[]): Hono {
  const app = new Hono();
  const inflated = new Map<string, Uint8Array>();
  for (const asset of assets) {
    app.get(asset.path, (c) => {
      c.header('content-type', asset.contentType);
      c.header('cache-control', asset.cacheControl);
      c.header('vary', 'accept-encoding');
      for (const [name, value] of Object.entries(asset.headers)) c.header(name, value);
      const gzip = acceptsGzip(c.req.header('accept-encoding'));
      // Each encoding is a representation of its own, with an entity tag of its own (RFC 9110 §8.8.3).
      const etag = gzip ? asset.etag.replace(/"$/, '-gz"') : asset.etag;
      c.header('etag', etag);
      if (matchesEtag(c.req.header('if-none-match'), etag)) return c.body(null, 304);
      if (gzip) {
        c.header('content-encoding', 'gzip');
        return c.body(asset.gzip as Uint8Array<ArrayBuffer>, 200);
      }
      let body = inflated.get(asset.path);
      if (body === undefined) inflated.set(asset.path, (body = gunzipSync(asset.gzip)));
      return c.body(body as Uint8Array<ArrayBuffer>, 200);
    });
  }
  // Only GET (and HEAD, which Hono answers with the GET route) reaches a file.
  app.all('*', (c) => {
    const known = assets.some((asset) => asset.path === c.req.path);
    if (!known) return errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${c.req.path}`);
    if (c.req.method === 'OPTIONS') return c.body(null, 204, { allow: 'GET, HEAD, OPTIONS' });
    c.header('allow', 'GET, HEAD, OPTIONS');
    return errorResponse(c, 405, 'method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; allowed: GET, HEAD, OPTIONS`);
  });
  return app;
}

/** The API's one error shape, for the few errors a file server has. */
function errorResponse(c: Context, status: ContentfulStatusCode, code: ErrorCode, message: string): Response {
  return c.json({ error: { code, message } }, status);
}

/** RFC 9110 §13.1.2: a list of entity tags or `*`; weak tags compare equal for If-None-Match. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** Whether `Accept-Encoding` admits gzip: named (or `*`) with a q-value above 0. */
function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let any = false;
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const allowed = q === undefined || Number(q.slice(2)) > 0;
    if (coding.trim() === 'gzip') return allowed;
    if (coding.trim() === '*') any = allowed;
  }
  return any;
}
