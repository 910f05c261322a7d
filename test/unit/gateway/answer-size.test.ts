import { describe, expect, it } from 'vitest';
import { likeFunctionUrl } from '../../../local/function-url-limit.ts';
import { enveloped, FUNCTION_URL_RESPONSE_BYTES, largestFitting } from '../../../mcp-gateway/answer-size.ts';

describe('enveloped', () => {
  it('counts a value as JSON written again as a JSON string, so escapes count twice', () => {
    expect(enveloped({ a: 'x' })).toBe('"{\\"a\\":\\"x\\"}"'.length);
    // A control character is 6 bytes of JSON (\u0001), then 7 in the response event.
    expect(enveloped('\u0001') - enveloped('')).toBe(7);
  });
});

describe('largestFitting', () => {
  it('finds the most items that fit, and never fewer than one', () => {
    const sizeOf = (n: number) => 100 + 10 * n;
    expect(largestFitting(50, sizeOf, 1000)).toBe(50);
    expect(largestFitting(200, sizeOf, 1000)).toBe(90);
    expect(largestFitting(200, sizeOf, 50)).toBe(1);
    expect(largestFitting(0, sizeOf, 50)).toBe(0);
  });
});

describe('likeFunctionUrl', () => {
  const answering = (body: string) => likeFunctionUrl(async () => new Response(body, { status: 200 }));
  const request = new Request('http://127.0.0.1/mcp', { method: 'POST' });

  it('passes an answer through unchanged below 6 MB', async () => {
    const response = await answering('{"ok":true}')(request);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"ok":true}');
  });

  it('answers 502, as Lambda does, when the response event would pass 6 MB', async () => {
    // Quotes double in the response event: 3.5 MB of them are 7 MB there.
    const response = await answering('"'.repeat(3.5 * 1024 * 1024))(request);
    expect(response.status).toBe(502);
    const justUnder = await answering('x'.repeat(FUNCTION_URL_RESPONSE_BYTES - 1024))(request);
    expect(justUnder.status).toBe(200);
  });
});
