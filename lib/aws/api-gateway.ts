import type { Context } from 'hono';

interface ApiGatewayRequestContext {
  /** HTTP API (payload 2.0). */
  readonly http?: { readonly sourceIp?: unknown };
  /** REST API (payload 1.0), as LocalStack's free plan serves. */
  readonly identity?: { readonly sourceIp?: unknown };
}

/**
 * The client's address as API Gateway saw the TCP connection (`requestContext.http.sourceIp`), which
 * `hono/aws-lambda` passes in `c.env`. Unlike `getConnInfo` of hono/aws-lambda it never falls back
 * to X-Forwarded-For: that header is the client's to write, and the login limits count per address.
 */
export function sourceIpOf(c: Context): string | undefined {
  const context = (c.env as { requestContext?: ApiGatewayRequestContext } | undefined)?.requestContext;
  const address = context?.http?.sourceIp ?? context?.identity?.sourceIp;
  return typeof address === 'string' && address !== '' ? address : undefined;
}
