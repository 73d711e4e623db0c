/**
 * A stand-in for AWS endpoints on 127.0.0.1 that records every request: which service it was signed
 * for, its X-Amz-Target and body. Tests answer the calls they care about; anything else gets an
 * AccessDenied that the SDK does not retry, so a client pointed here can never reach out further.
 */
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** From the SigV4 credential scope (`…/us-east-1/ssm/aws4_request`); '' when unsigned. */
  readonly service: string;
  /** `AmazonSSM.PutParameter`…, for JSON protocol calls; '' otherwise. */
  readonly target: string;
  readonly body: string;
}

/** Answers one request, or returns undefined to leave it to the default AccessDenied. */
export type FakeHandler = (request: RecordedRequest) => { status?: number; body: unknown } | undefined;

export interface FakeAws {
  readonly endpoint: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeAws(handler: FakeHandler): Promise<FakeAws> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(req.headers.authorization ?? '');
    const request: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      service: scope?.[1] ?? '',
      target: String(req.headers['x-amz-target'] ?? ''),
      body: Buffer.concat(chunks).toString('utf8'),
    };
    requests.push(request);
    const answer = handler(request);
    if (answer) {
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
      return;
    }
    // Both shapes of error: JSON for JSON-protocol services, XML for query (CloudFormation, STS) and S3.
    if (request.target) {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ __type: 'AccessDeniedException', message: 'fake AWS: not answered by this test' }));
    } else {
      res.writeHead(403, { 'content-type': 'text/xml' });
      res.end(
        '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>' +
          '<Message>fake AWS: not answered by this test</Message></Error><RequestId>fake</RequestId></ErrorResponse>',
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
