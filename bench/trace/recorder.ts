import type { StackObserver } from '../../local/stack.ts';
import { parseTarget } from '../call-counter.ts';
import { type Exchange, type InvokeSpan, taskOfBody } from './analysis.ts';

/** DynamoDB item calls: their bodies name the task (`Item.id` or `Key.id`). */
const ITEM_CALLS = new Set(['PutItem', 'UpdateItem', 'GetItem', 'DeleteItem']);

/**
 * Records what the stack's hooks see, on this process's clock, while `enabled` (from the start, so
 * the long poll that is already waiting when the traced phase begins is seen too). Reads DynamoDB
 * request bodies by listening to `data` beside dynalite (which reads them in its own synchronous
 * `request` listener, registered first); SQS bodies are not read.
 */
export class TraceRecorder {
  enabled = true;
  readonly exchanges: Exchange[] = [];
  readonly invokes: InvokeSpan[] = [];

  readonly observer: StackObserver = {
    onAwsRequest: (target, request, response) => {
      if (!this.enabled) return;
      const { service, operation } = parseTarget(target);
      const exchange: Exchange = { action: operation, service, arrive: performance.now() };
      this.exchanges.push(exchange);
      if (service === 'DynamoDB' && ITEM_CALLS.has(operation)) {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.once('end', () => {
          exchange.bodyEnd = performance.now();
          Object.assign(exchange, taskOfBody(Buffer.concat(chunks).toString('utf8')));
        });
      }
      response.once('finish', () => {
        exchange.finish = performance.now();
        exchange.responseBytes = Number(response.getHeader('content-length') ?? Number.NaN);
      });
    },
    onInvoke: (functionName, _records, event) => {
      if (!this.enabled) return;
      const taskIds = event.Records.map((record) => {
        try {
          return String((JSON.parse(record.body) as { taskId?: unknown }).taskId);
        } catch {
          return '';
        }
      });
      const span: InvokeSpan = { functionName, taskIds, start: performance.now() };
      this.invokes.push(span);
      return () => {
        span.end = performance.now();
      };
    },
  };
}
