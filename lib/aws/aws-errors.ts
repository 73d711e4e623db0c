import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DoozerError, UnavailableError } from '../errors.ts';

/**
 * How the adapters of lib/aws turn what the AWS SDK throws into domain errors, in one place. A
 * DynamoDB condition that was refused is told apart first: to an adapter it is an answer (the task
 * moved on, the key is taken), not an outage. Any other failure, after the SDK's own retries, is an
 * UnavailableError (503, retry shortly) that says what could not be done and keeps the SDK's error
 * as its `cause`, for the logs.
 */

/** Whether `error` is DynamoDB refusing a ConditionExpression (ConditionalCheckFailedException). */
export function isConditionFailure(error: unknown): error is ConditionalCheckFailedException {
  return error instanceof ConditionalCheckFailedException;
}

/** The domain error for an AWS call that failed: `message` says what could not be done. */
export function awsUnavailable(message: string, cause: unknown): UnavailableError {
  return new UnavailableError(message, { cause });
}

/**
 * Makes one AWS call. With `onConditionFailed`, a refused condition resolves with what it returns
 * (or rejects with what it throws); without it, a refused condition fails like anything else. Any
 * other failure rejects with UnavailableError(`message`). A DoozerError thrown inside `call` (a
 * nested call, mapped already) passes unchanged.
 */
export async function callAws<T, R = never>(
  message: string,
  call: () => Promise<T>,
  onConditionFailed?: (refusal: ConditionalCheckFailedException) => R | Promise<R>,
): Promise<T | R> {
  try {
    return await call();
  } catch (error) {
    if (onConditionFailed && isConditionFailure(error)) return onConditionFailed(error);
    if (error instanceof DoozerError) throw error;
    throw awsUnavailable(message, error);
  }
}
