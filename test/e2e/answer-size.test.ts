import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enveloped, FUNCTION_URL_RESPONSE_BYTES } from '../../mcp-gateway/answer-size.ts';
import { callTool, openTestStack, waitForTerminal } from '../support/embedded.ts';

/**
 * The gateway answers through a Function URL, which buffers at most 6 MB; the embedded
 * stack refuses a bigger answer with a 502 as Lambda would. A result page of the longest prompts
 * escaping the most (8,000 quotes, 8,000 control characters, in every image's infotext) must
 * still fit, the cursor carrying the rest.
 */

let opened: Awaited<ReturnType<typeof openTestStack>>;
beforeAll(async () => {
  opened = await openTestStack({ SDBATCH_SIM_STEP_MS: '0' });
});
afterAll(() => opened?.close());

interface Page {
  files: Array<{ key: string; infotext?: string }>;
  next_cursor?: string;
  completed_images: number;
}

describe('answers under the Function URL’s 6 MB', () => {
  it('pages 200 images of 8,000-character prompts by size, every page under 6 MB, each image once', async () => {
    const { client } = opened;
    const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: '"'.repeat(8000),
      negative_prompt: '\u0001'.repeat(8000),
      batch_size: 8,
      n_iter: 25,
      steps: 1,
      width: 64,
      height: 64,
    });
    expect(await waitForTerminal(client, data.job_id, { timeoutMs: 60_000 })).toMatchObject({
      status: 'completed',
    });
    const keys: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { result, data: page } = await callTool<Page>(client, 'sdreforge_batch_result', {
        job_id: data.job_id,
        limit: 200,
        ...(cursor ? { cursor } : {}),
      });
      expect(result.isError).toBeFalsy();
      expect(enveloped(result)).toBeLessThan(FUNCTION_URL_RESPONSE_BYTES);
      expect(page.files[0]?.infotext?.length).toBeGreaterThan(16_000);
      keys.push(...page.files.map((f) => f.key));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    // Far fewer than 200 such files fit one answer; the pages together hold every image once.
    expect(pages).toBeGreaterThan(2);
    expect(keys).toHaveLength(200);
    expect(new Set(keys).size).toBe(200);
  }, 120_000);
});
