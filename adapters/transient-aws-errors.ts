import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { TransientAwsError } from '../core/errors.ts';

/**
 * Error names AWS services answer when a request may well succeed later: throttling (DynamoDB's
 * ProvisionedThroughputExceededException and ThrottlingException, RequestLimitExceeded when the
 * account's throughput is exceeded, S3's SlowDown) and the services' own failures (500, 503).
 */
const TRANSIENT_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'Throttling',
  'TooManyRequestsException',
  'SlowDown',
  'InternalServerError',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  // The SDK's own socket and request time-outs.
  'TimeoutError',
]);

const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);

/** A connection that failed on the way (Node's error codes): another try may find it whole. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** Whether an AWS SDK error is one a later try may not get: a throttle, a 5xx, a broken connection. */
export function isTransientAwsError(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof TransientAwsError) return false;
  const e = error as SdkErrorShape;
  return (
    TRANSIENT_NAMES.has(e.name ?? '') ||
    TRANSIENT_STATUS.has(e.$metadata?.httpStatusCode ?? 0) ||
    NETWORK_CODES.has(e.code ?? '') ||
    Boolean(e.$retryable)
  );
}

/**
 * Makes every request of `client` that still fails transiently once the SDK's retries (its
 * standard mode: exponential back-off with jitter) are spent throw TransientAwsError, with the
 * SDK's error as its cause: one name the task's callers (the runner, the state machine's Retry)
 * tell apart from a failure of the work. It sits in the initialize step, outside the retries.
 */
export function nameTransientErrors(client: DynamoDBClient | S3Client): void {
  // One middleware for both clients: it reads only the error and the command's name.
  const stack = client.middlewareStack as unknown as DynamoDBClient['middlewareStack'];
  stack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (!isTransientAwsError(error)) throw error;
        const { name, message } = error as Error;
        throw new TransientAwsError(
          `${context.clientName ?? 'AWS'} ${context.commandName ?? 'request'} failed after the SDK's retries: ${name}: ${message}`,
          { cause: error },
        );
      }
    },
    { step: 'initialize', name: 'sdbatchTransientErrors', priority: 'high' },
  );
}
