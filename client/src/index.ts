export {
  DoozerClient,
  type DoozerClientOptions,
  type RunOptions,
  type RunResult,
  type SubmitResult,
  type WaitForOptions,
  type WaitOptions,
} from './doozer-client.ts';
export { DoozerApiError, DoozerClientError, DoozerConnectionError } from './errors.ts';
export { type CachedToken, FileTokenCache, MemoryTokenCache, type TokenCache } from './token-cache.ts';
export {
  type AnyTaskList,
  type JsonSchema,
  type TaskArgs,
  type TaskList,
  type TaskName,
  type TaskNameOf,
  type TaskProgress,
  type TaskResult,
  type TaskShape,
  type TaskState,
  type TaskType,
  type TaskView,
  type TaskViewOf,
  type TokenResponse,
  type WireInteger,
  type WireSchema,
  isTerminal,
} from './types.ts';
