import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { InvalidRequestError, JobNotFoundError, StoresUnavailableError } from '../core/errors.ts';

/** A result every client can read: a one-line summary for the model plus the structured object. */
export function toolResult<T extends object>(summary: string, structured: T): CallToolResult {
  return {
    content: [{ type: 'text', text: summary }],
    structuredContent: structured as Record<string, unknown>,
  };
}

export function toolError(message: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: message }] };
}

/**
 * Domain errors become tool errors the model can act on; anything else is logged and reported
 * without internals, so a stack trace never reaches a caller.
 */
export async function safely(run: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof JobNotFoundError || error instanceof InvalidRequestError)
      return toolError(error.message);
    // Its message says why and what brings the stores back: not a fault a retry gets over.
    if (error instanceof StoresUnavailableError) return toolError(error.message);
    // Merged preset + caller parameters failed validation: name the fields, change nothing.
    if (error instanceof z.ZodError) return toolError(`Invalid arguments: ${describeIssues(error)}`);
    console.error('tool failed', error);
    return toolError('Internal error in sdbatch; the request may be retried.');
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(arguments)'}: ${i.message}`).join('; ');
}
