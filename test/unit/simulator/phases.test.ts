import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../../local/simulator/server.ts';
import { getProgress, type Progress, pollProgress, send } from '../../contract/sd-webui-http.ts';

/**
 * The phases of a call around its sampling steps, as the real A1111 1.8 shows them
 * (test/fixtures/sd-webui-1.8/trace-*.json): a set-up phase at job_count -1, then n_iter, in which
 * sampling_steps still holds the previous job's value, and a decode phase after the last step.
 * Long phases here make each one observable by polling.
 */

let sim: Simulator;
const small = { prompt: 'x', width: 64, height: 64 };
const txt2img = (body: Record<string, unknown>) =>
  send(sim.url, { method: 'POST', path: '/sdapi/v1/txt2img', body: { ...small, ...body } });
const timing = { everyMs: 2, withinMs: 5000 };

beforeAll(async () => {
  sim = await startSimulator({ stepMs: 5, setupMs: 800, decodeMs: 300 });
});
afterAll(() => sim.close());

describe('simulated call phases', () => {
  it("starts at job_count -1, then n_iter, while sampling_steps still shows the last job's steps", async () => {
    expect((await txt2img({ steps: 3 })).status).toBe(200);
    const running = txt2img({ steps: 7, n_iter: 2 });
    const seen = await pollProgress(sim.url, (p) => p.state.sampling_steps === 7, timing);
    const busy = seen.filter((p) => p.state.job_count !== 0);
    const setup = busy.slice(0, -1);
    expect(setup[0]?.state).toMatchObject({ job_count: -1, job_no: 0, sampling_step: 0, sampling_steps: 3 });
    expect(setup[0]?.progress).toBe(0.01);
    expect(setup.some((p) => p.state.job_count === 2)).toBe(true);
    expect(setup.every((p) => p.state.sampling_steps === 3 && p.state.sampling_step === 0)).toBe(true);
    expect((await running).status).toBe(200);
  });

  it('keeps the last step visible while the batch decodes', async () => {
    const running = txt2img({ steps: 3 });
    const seen = await pollProgress(sim.url, (p) => p.state.sampling_step === 2, timing);
    expect(seen.at(-1)?.state).toMatchObject({ job_count: 1, job_no: 0, sampling_steps: 3 });
    expect((await running).status).toBe(200);
    expect((await getProgress(sim.url)).state).toMatchObject({ job_count: 0, job_no: 1, sampling_steps: 3 });
  });

  it('shows a call that failed in processing as the last job', async () => {
    expect((await txt2img({ steps: 2 })).status).toBe(200);
    const failed = await txt2img({ steps: 1, enable_hr: true, hr_upscaler: 'No Such Upscaler' });
    expect(failed.status).toBe(500);
    const idle: Progress = await getProgress(sim.url);
    // state.begin ran (job_no back to 0, flags cleared), the sampler never started (steps of the last call).
    expect(idle.state).toMatchObject({ job: '', job_count: 0, job_no: 0, sampling_steps: 2 });
  });

  it('refuses a flavour it does not know and negative phase times', async () => {
    await expect(startSimulator({ flavour: 'a1111-0.1' as never })).rejects.toThrow(/flavour must be one of/);
    await expect(startSimulator({ setupMs: -1 })).rejects.toThrow(/setupMs must be a number >= 0/);
  });
});
