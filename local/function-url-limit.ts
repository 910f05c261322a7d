import { FUNCTION_URL_RESPONSE_BYTES } from '../mcp-gateway/answer-size.ts';

type Fetch = (request: Request) => Response | Promise<Response>;

/**
 * The gateway as a Function URL in buffered mode serves it: the whole answer is buffered into
 * the Lambda's response event, and one over 6 MB fails the invocation, which the caller sees as a
 * 502. The embedded stack answers the same way, so a response too big for AWS fails here too.
 */
export function likeFunctionUrl(fetch: Fetch): Fetch {
  return async (request) => {
    const response = await fetch(request);
    if (!response.body) return response;
    const body = await response.text();
    const event = JSON.stringify({
      statusCode: response.status,
      headers: Object.fromEntries(response.headers),
      body,
      isBase64Encoded: false,
    });
    const bytes = Buffer.byteLength(event, 'utf8');
    if (bytes > FUNCTION_URL_RESPONSE_BYTES) {
      console.error(
        `answer of ${bytes} bytes refused: a Function URL answers at most ${FUNCTION_URL_RESPONSE_BYTES}`,
      );
      return new Response('Internal Server Error', {
        status: 502,
        headers: { 'content-type': 'text/plain' },
      });
    }
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}
