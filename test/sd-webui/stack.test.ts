import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, openTestStack, waitForTerminal } from '../support/embedded.ts';
import { type HostState, hostState, realSdWebUiUrl, watchHost } from './real-host.ts';

// The embedded stack as `npm start` runs it against a real SD WebUI, polled at the Lambda's pace.
const url = realSdWebUiUrl();
let stack: EmbeddedStack;
let client: Awaited<ReturnType<typeof openTestStack>>['client'];
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, client, close } = await openTestStack({ SD_WEBUI_URL: url }, { progressPollMs: 250 }));
}, 180_000);
afterAll(() => close?.());

const SMALL = { width: 64, height: 64, sampler_name: 'Euler' };

describe('cancel against a real SD WebUI', () => {
  it('stops the GPU work of the cancelled job, queued calls included', async () => {
    const steps = 12;
    const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'cancel me',
      n_iter: 4,
      steps,
      seed: 7,
      ...SMALL,
    });
    // Sampling for real, with the job's second call queued behind the first.
    await watchHost(url, (s) => s.jobCount > 0 && s.steps === steps && s.step >= 1);
    const cancelledAt = Date.now();
    await callTool(client, 'sdreforge_batch_cancel', { job_id: data.job_id });
    const runs = new Map<string, HostState[]>();
    let idleSince: number | undefined;
    await watchHost(
      url,
      (s) => {
        if (s.jobCount !== 0) {
          idleSince = undefined;
          runs.set(s.jobTimestamp, [...(runs.get(s.jobTimestamp) ?? []), s]);
          return false;
        }
        idleSince ??= s.at;
        // Idle long enough that a call still queued would have started.
        return s.at - idleSince >= 3_000;
      },
      { pollMs: 50 },
    );
    const busy = [...runs.values()].flat();
    const lastBusy = Math.max(cancelledAt, ...busy.map((s) => s.at));
    const stepsAfter = [...runs.values()].map((states) => Math.max(...states.map((s) => s.step)));
    console.log(
      `GPU busy ${((lastBusy - cancelledAt) / 1000).toFixed(1)} s after the cancel; ` +
        `runs seen after it: ${runs.size}, their last steps: ${stepsAfter.join(', ')}`,
    );
    // The running call stops at its next step; a queued one of the job at its first.
    for (const last of stepsAfter) expect(last).toBeLessThanOrEqual(2);
    const ended = await waitForTerminal<{ status: string; completed_images: number }>(client, data.job_id);
    expect(ended.status).toBe('cancelled');
    // Partly sampled images of the interrupted calls are not results.
    expect(ended.completed_images).toBe(0);
    expect((await hostState(url)).jobCount).toBe(0);
  }, 180_000);
});
