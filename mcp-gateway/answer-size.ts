/**
 * The most a Lambda may answer a Function URL with in buffered mode: 6 MB for the whole response
 * event ({statusCode, headers, body}); past it the invocation fails and the caller gets a 502.
 */
export const FUNCTION_URL_RESPONSE_BYTES = 6 * 1024 * 1024;

/** What a tool's answer is kept under: the limit less room for the JSON-RPC frame and headers. */
export const ANSWER_BUDGET_BYTES = FUNCTION_URL_RESPONSE_BYTES - 128 * 1024;

/**
 * Bytes a value takes in a Function URL response: its JSON text, written again as a JSON string
 * (the body field of the response event), so every quote and escape in it counts twice.
 */
export const enveloped = (value: unknown): number =>
  Buffer.byteLength(JSON.stringify(JSON.stringify(value)), 'utf8');

/**
 * The largest n <= count for which `sizeOf(n)` fits `budget` (at least 1 when count > 0, so a
 * page always moves on), found in about log2(count) measurements.
 */
export function largestFitting(count: number, sizeOf: (n: number) => number, budget: number): number {
  if (count === 0 || sizeOf(count) <= budget) return count;
  let [fits, tooBig] = [1, count];
  while (tooBig - fits > 1) {
    const mid = Math.floor((fits + tooBig) / 2);
    if (sizeOf(mid) <= budget) fits = mid;
    else tooBig = mid;
  }
  return fits;
}
