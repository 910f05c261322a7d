import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { handle, type LambdaEvent } from 'hono/aws-lambda';
import { type AppOptions, createApp } from './app.ts';

const logger = new Logger({ serviceName: 'sdbatch-gateway' });

/** A Function URL event: API Gateway's HTTP API payload format 2.0. */
export type FunctionUrlEvent = LambdaFunctionURLEvent;

/** The gateway behind a Function URL (payload format 2.0), for any deps: tests pass fakes. */
export function createLambdaHandler(options: AppOptions) {
  const handleEvent = handle(createApp(options));
  return async (event: FunctionUrlEvent, context?: Context) => {
    if (context) logger.addContext(context);
    // Hono's v2 event type insists on fields a Function URL omits (authorizer, a null body);
    // its v2 processor reads only those a Function URL sends.
    const response = await handleEvent(
      event as unknown as Extract<LambdaEvent, { rawPath: string }>,
      context,
    );
    // Method, path and status only: headers carry the bearer token, bodies carry prompts.
    logger.info('request', {
      method: event.requestContext.http.method,
      path: event.rawPath,
      status: response.statusCode,
    });
    return response;
  };
}
