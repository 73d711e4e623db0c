import type { Env, Hono } from 'hono';
import { MethodNotAllowedError } from '../errors.ts';

/**
 * A known path asked with another method: 405 with `Allow` (RFC 9110), rather than the 404 of an
 * unknown path; OPTIONS answers 204 with `Allow`. Registered after every route, from the routes
 * themselves, so it cannot drift from them. Hono answers HEAD with the GET route.
 */
export function answerOtherMethods<E extends Env>(app: Hono<E>): void {
  const allowed = new Map<string, Set<string>>();
  for (const { method, path } of app.routes) {
    if (method === 'ALL') continue; // middleware
    const methods = allowed.get(path) ?? new Set<string>();
    methods.add(method);
    if (method === 'GET') methods.add('HEAD');
    allowed.set(path, methods);
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods, 'OPTIONS'];
    app.all(path, (c) => {
      if (c.req.method === 'OPTIONS') return c.body(null, 204, { Allow: allow.join(', ') });
      throw new MethodNotAllowedError(c.req.method, c.req.path, allow);
    });
  }
}
