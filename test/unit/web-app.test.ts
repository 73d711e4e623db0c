import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { type WebAsset, createWebApp, decodeAssets } from '../../lib/web/web-app.ts';
import { type BuiltAsset, assetsModule, buildWebAssets } from '../../web/build-assets.mjs';

let built: BuiltAsset[];
let assets: WebAsset[];
let app: ReturnType<typeof createWebApp>;

beforeAll(async () => {
  built = await buildWebAssets();
  // Through the module text the bundle gets, as the web function decodes it.
  const source = assetsModule(built);
  const encoded = JSON.parse(source.replace(/^export default /, '').replace(/;\s*$/, ''));
  assets = decodeAssets(encoded);
  app = createWebApp(assets);
});

const GZIP = { 'accept-encoding': 'gzip, deflate, br, zstd' };
const text = (path: string) => built.find((asset) => asset.path === path)!.body.toString('utf8');

describe('the web build', () => {
  it('serves the page at / and the docs at /docs, each naming files the build made', () => {
    for (const page of ['/', '/docs']) {
      const html = text(page);
      const referenced = [...html.matchAll(/(?:src|href)="(\/[^"]*)"/g)].map((match) => match[1]!).filter((ref) => ref !== '/' && ref !== '/openapi.json' && ref !== '/docs');
      expect(referenced.length, page).toBeGreaterThanOrEqual(2);
      for (const ref of referenced) expect(built.map((asset) => asset.path), `${page} loads ${ref}`).toContain(ref);
    }
  });

  it('loads nothing from another origin: no absolute URL in any HTML, script or style the pages load', () => {
    for (const page of ['/', '/docs']) {
      expect(text(page)).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    }
    expect(text('/')).not.toMatch(/https?:\/\//);
    const appScript = built.find((asset) => asset.path.startsWith('/ui/app-'))!;
    expect(appScript.body.toString('utf8')).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });

  it('keeps the page small: its HTML, script and style together under 12 KB gzipped', async () => {
    const page = ['/', ...[...text('/').matchAll(/(?:src|href)="(\/ui\/[^"]+)"/g)].map((match) => match[1]!)];
    let bytes = 0;
    for (const path of page) {
      const response = await app.request(path, { headers: GZIP });
      bytes += (await response.arrayBuffer()).byteLength;
    }
    expect(page).toHaveLength(3);
    expect(bytes).toBeLessThan(12_000);
  });

  it('names each script and style by its content, so they can be cached for good', () => {
    for (const asset of built.filter((a) => a.path.startsWith('/ui/'))) expect(asset.path).toMatch(/^\/ui\/[a-z]+-[A-Z0-9]{8}\.(js|css)$/);
  });

  it('leaves a plain link to /openapi.json on /docs for when scripts fail, and the docs script hides it', () => {
    expect(text('/docs')).toMatch(/<div id="fallback"[^>]*>[\s\S]*<a href="\/openapi.json">/);
    expect(built.find((asset) => asset.path.startsWith('/ui/docs-'))!.body.toString('utf8')).toContain('fallback');
  });
});

describe('the web function', () => {
  it('answers the page gzipped, with its security policy, revalidated on every load', async () => {
    const response = await app.request('/', { headers: GZIP });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('vary')).toBe('accept-encoding');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const policy = response.headers.get('content-security-policy')!;
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(gunzipSync(Buffer.from(await response.arrayBuffer())).toString('utf8')).toBe(text('/'));
  });

  it('answers a client that takes no gzip with the plain bytes', async () => {
    const response = await app.request('/docs');
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(await response.text()).toBe(text('/docs'));
    const refused = await app.request('/docs', { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    expect(refused.headers.get('content-encoding')).toBeNull();
  });

  it('answers 304 to a reload that names the current ETag, and 200 to an old one', async () => {
    const first = await app.request('/', { headers: GZIP });
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await app.request('/', { headers: { ...GZIP, 'if-none-match': `"elsewhere", W/${etag}` } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe('');
    const stale = await app.request('/', { headers: { ...GZIP, 'if-none-match': '"an-older-page"' } });
    expect(stale.status).toBe(200);
  });

  it('tags the gzipped and the plain bytes apart, so a cache never takes one for the other', async () => {
    const gzipped = (await app.request('/', { headers: GZIP })).headers.get('etag')!;
    const plain = (await app.request('/')).headers.get('etag')!;
    expect(gzipped).not.toBe(plain);
    expect((await app.request('/', { headers: { 'if-none-match': gzipped } })).status).toBe(200);
    expect((await app.request('/', { headers: { 'if-none-match': plain } })).status).toBe(304);
  });

  it('caches content-named files for good', async () => {
    const script = assets.find((asset) => asset.path.startsWith('/ui/app-'))!;
    const response = await app.request(script.path, { headers: GZIP });
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('serves Swagger UI from its package, with its licence, and without its source map comment', async () => {
    const bundle = assets.find((asset) => asset.path.endsWith('/swagger-ui-bundle.js'))!;
    const body = await (await app.request(bundle.path)).text();
    expect(body).toContain('SwaggerUIBundle');
    expect(body).not.toContain('sourceMappingURL');
    const licence = await app.request(`${bundle.path}.LICENSE.txt`);
    expect(licence.status).toBe(200);
  });

  it('answers an unknown file with a 404 and another method with a 405, in the API error shape', async () => {
    const missing = await app.request('/ui/app-NOTBUILT.js');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'not_found', message: 'no route for GET /ui/app-NOTBUILT.js' } });
    const posted = await app.request('/docs', { method: 'POST' });
    expect(posted.status).toBe(405);
    expect(posted.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    expect(((await posted.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });

  it('answers HEAD like GET, without a body, and OPTIONS with what it allows', async () => {
    const response = await app.request('/', { method: 'HEAD', headers: GZIP });
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBeTruthy();
    expect((await response.arrayBuffer()).byteLength).toBe(0);
    const options = await app.request('/docs', { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
  });
});
