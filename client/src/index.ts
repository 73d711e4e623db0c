export type * from './client-options.ts';
export { DoozerClient } from './doozer-client.ts';
export { type WebhookHeaders, verifyWebhook } from './webhooks.ts';
export {
  DoozerApiError,
  DoozerClientError,
  DoozerConnectionError,
  DoozerRateLimitError,
  DoozerTaskEndedError,
  type RateLimitInfo,
  type WebhookVerificationCode,
  WebhookVerificationError,
} from './errors.ts';
export { type CachedToken, FileTokenCache, MemoryTokenCache, type TokenCache } from './token-cache.ts';
export {
  type AnyTaskList,
  type BatchItemError,
  type BatchItemResult,
  type JsonSchema,
  type TaskArgs,
  type TaskList,
  type TaskName,
  type TaskNameOf,
  type TaskPage,
  type TaskProgress,
  type TaskResult,
  type TaskShape,
  type TaskState,
  type TaskType,
  type TaskView,
  type TaskViewOf,
  type TokenResponse,
  type WebhookDelivery,
  type WebhookState,
  type WireInteger,
  type WireSchema,
  TASK_STATES,
  TERMINAL_STATES,
  isTerminal,
} from './types.ts';
