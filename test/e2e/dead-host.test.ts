import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, openTestStack, waitForTerminal } from '../support/embedded.ts';
import { duplicates, type ResultData } from '../support/faults.ts';

/**
 * A pool whose only GPU host cannot work, through the running stack: the job ends within the
 * outage's bound with every failure named, and status says what it waits for meanwhile. The bound
 * (OUTAGE_MS, 2 min), the hang limit (HANG_MS, 90 s) and the rest (30 s) are shortened through
 * the stack's overrides, in proportion; the unit test (test/unit/workflow/dead-pool.test.ts)
 * holds the real ones on fake timers.
 */

const OUTAGE_MS = 3_000;

interface Status {
  status: string;
  completed_images: number;
  failed_images: number;
  estimated_remaining: string | null;
  estimated_remaining_seconds: number | null;
}

let stack: EmbeddedStack;
let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, client, close } = await openTestStack(
    {},
    { outageMs: OUTAGE_MS, hangMs: 1_000, hostRestMs: 1_000 },
  ));
});
afterAll(() => close?.());
afterEach(() => {
  stack.simulator?.setFaults({ errorRate: 0, hangRate: 0 });
});

async function start(nIter: number, batchSize = 1, seed = 100): Promise<string> {
  const { result, data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
    prompt: 'dead host',
    steps: 2,
    width: 64,
    height: 64,
    n_iter: nIter,
    batch_size: batchSize,
    seed,
  });
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return data.job_id;
}

const result = async (jobId: string) =>
  (await callTool<ResultData>(client, 'sdreforge_batch_result', { job_id: jobId })).data;

/** Waits for the job's end, keeping every "waiting for…" status said on the way. */
async function waitSeeingWaits(jobId: string, onWaiting?: () => void) {
  const waits: string[] = [];
  const end = await waitForTerminal<Status>(client, jobId, {
    timeoutMs: 60_000,
    onStatus: (s) => {
      if (s.estimated_remaining?.startsWith('waiting for a GPU host')) {
        waits.push(s.estimated_remaining);
        onWaiting?.();
      }
      // A job that has made nothing yet is not about to end, so never shown as if it were. (Once
      // images flow again, a last call may rightly be 0s from its end.)
      if (s.status === 'running' && s.completed_images === 0) expect(s.estimated_remaining).not.toBe('0s');
    },
  });
  return { end, waits };
}

describe('a job on a GPU host that cannot work', () => {
  it('fails a 100-iteration job on an always-failing host within the bound, each failure with the host’s error', async () => {
    stack.simulator?.resetStats();
    stack.simulator?.setFaults({ errorRate: 1 });
    const jobId = await start(100);
    const { end, waits } = await waitSeeingWaits(jobId);
    expect(end).toMatchObject({ status: 'failed', completed_images: 0, failed_images: 100 });
    const { failures, files } = await result(jobId);
    expect(files).toEqual([]);
    expect(failures).toHaveLength(100);
    for (const failure of failures) {
      expect(failure.error).toMatch(/^SdWebUiUnavailableError: .*answered 500/);
    }
    expect(failures.filter((f) => /no GPU host completed a call for/.test(f.error)).length).toBeGreaterThan(
      90,
    );
    // Given up on, not tried 4 times each (400 calls).
    const calls = stack.simulator?.stats().requests ?? 0;
    console.log(`[dead host] failing host: 100 iterations failed after ${calls} calls`);
    expect(calls).toBeLessThan(100);
    expect(waits.length).toBeGreaterThan(0);
    expect(waits[0]).toMatch(/^waiting for a GPU host: 127\.0\.0\.1:\d+ failing since .*, last error: .*500/);
  }, 90_000);

  it('fails a 10-iteration job on a hanging host within the bound, saying the host hung', async () => {
    stack.simulator?.setFaults({ hangRate: 1 });
    const jobId = await start(10);
    const { end } = await waitSeeingWaits(jobId);
    expect(end).toMatchObject({ status: 'failed', failed_images: 10 });
    const { failures } = await result(jobId);
    expect(failures).toHaveLength(10);
    for (const failure of failures) {
      expect(failure.error).toMatch(/showed no request running for 1s while the call had no answer/);
    }
  }, 90_000);

  it('loses and doubles nothing when the host fails, then answers again within the bound', async () => {
    stack.simulator?.setFaults({ errorRate: 1 });
    const jobId = await start(20, 2, 5000);
    // The host comes back once status says the job waits for it.
    const { end, waits } = await waitSeeingWaits(jobId, () => stack.simulator?.setFaults({ errorRate: 0 }));
    expect(waits.length).toBeGreaterThan(0);
    expect(end).toMatchObject({ status: 'completed', completed_images: 40, failed_images: 0 });
    const { files, failures } = await result(jobId);
    expect(failures).toEqual([]);
    expect(files).toHaveLength(40);
    expect(duplicates(files.map((f) => f.key))).toEqual([]);
    for (const file of files) expect(file.seed).toBe(5000 + file.iteration * 2 + file.index);
  }, 90_000);
});
