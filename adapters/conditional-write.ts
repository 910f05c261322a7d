import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';

/**
 * A DynamoDB write whose condition may fail as an expected outcome: its response, or undefined
 * when the condition did not hold. Any other error still throws.
 */
export async function conditionally<T>(write: Promise<T>): Promise<T | undefined> {
  try {
    return await write;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

/** Whether a conditional write went through. */
export const wrote = async (write: Promise<unknown>): Promise<boolean> =>
  (await conditionally(write)) !== undefined;
