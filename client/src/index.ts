export { DoozerClient, type DoozerClientOptions, type SubmitResult, type WaitForOptions, type WaitOptions } from './doozer-client.ts';
export { DoozerApiError, DoozerClientError, DoozerConnectionError } from './errors.ts';
export { type CachedToken, FileTokenCache, MemoryTokenCache, type TokenCache } from './token-cache.ts';
export { type TaskName, type TaskState, type TaskView, type TokenResponse, type WireInteger, isTerminal } from './types.ts';
