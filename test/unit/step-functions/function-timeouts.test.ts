import { describe, expect, it } from 'vitest';
import { TransientAwsError } from '../../../core/errors.ts';
import { admissionOutput, parseSlotKey, type SlotRef } from '../../../core/pool/host-pool.ts';
import { ASSIGNED_MS } from '../../../core/pool/waiters.ts';
import type { DefinitionJson } from '../../../local/step-functions/definition-facts.ts';
import {
  LocalOrchestrator,
  type TaskContext,
  type TaskHandlers,
} from '../../../local/step-functions/local-orchestrator.ts';
import { FUNCTION_SIZING } from '../../../workflow/function-sizing.ts';
import { manualTimers } from '../../support/manual-timers.ts';

/**
 * Lambda's time-out and its own error names in the embedded orchestrator, and what the project's
 * state machine does with them: a runner that dies is started again, and its iterations are
 * recorded failed only once the retries are spent. Time moves only when a test fires a timer.
 */

const FN = 'arn:aws:lambda:us-east-1:000000000000:function:work';

/** A handler that never answers on its own, telling the test when it was called and with what context. */
function stuck() {
  const calls: TaskContext[] = [];
  let finish: (value: unknown) => void = () => {};
  let called: () => void = () => {};
  let next = new Promise<void>((resolve) => {
    called = resolve;
  });
  const handler = (_input: unknown, context?: TaskContext) => {
    calls.push(context as TaskContext);
    called();
    return new Promise((resolve) => {
      finish = resolve;
    });
  };
  /** Settles when the handler is next called. */
  const invoked = async () => {
    await next;
    next = new Promise<void>((resolve) => {
      called = resolve;
    });
  };
  return { handler, calls, invoked, finish: (value: unknown) => finish(value) };
}

describe('a function past its time-out', () => {
  const definition = {
    StartAt: 'Work',
    States: {
      Work: {
        Type: 'Task',
        Resource: FN,
        TimeoutSeconds: 10,
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Report' }],
        End: true,
      },
      Report: { Type: 'Task', Resource: FN, TimeoutSeconds: 10, End: true },
    },
  } as unknown as DefinitionJson;

  it('fails its task with Sandbox.Timedout and Lambda’s message; what the handler does after is ignored', async () => {
    const { timers, fire, now } = manualTimers();
    const work = stuck();
    const reported: unknown[] = [];
    const orchestrator = new LocalOrchestrator({
      definition,
      handlers: {
        Work: work.handler,
        Report: async (input) => {
          reported.push(input);
          return input;
        },
      },
      functionTimeouts: { Work: 3, Report: 3 },
      timers,
      now,
    });
    await orchestrator.start('job', {});
    await work.invoked();
    // Told the time it has left, as Lambda's context tells it.
    expect(work.calls[0]?.getRemainingTimeInMillis()).toBe(3000);
    expect(work.calls[0]?.signal.aborted).toBe(false);
    fire(3000);
    // Told to stop, since here nothing freezes it.
    expect(work.calls[0]?.signal.aborted).toBe(true);
    await orchestrator.drain(false);
    work.finish({ late: true });
    expect(reported).toEqual([
      {
        error: {
          Error: 'Sandbox.Timedout',
          Cause: expect.stringMatching(
            /^RequestId: [0-9a-f-]{36} Error: Task timed out after 3\.00 seconds$/,
          ),
        },
      },
    ]);
    expect(orchestrator.historyOf('job')).toMatchObject({ outcome: 'succeeded' });
  });

  it('is not timed out when it answers in time, and the timer goes', async () => {
    const { timers, pending, now } = manualTimers();
    const orchestrator = new LocalOrchestrator({
      definition,
      handlers: { Work: async () => ({ ok: true }), Report: async () => ({}) },
      functionTimeouts: { Work: 3, Report: 3 },
      timers,
      now,
    });
    await orchestrator.start('job', {});
    await orchestrator.drain(false);
    expect(orchestrator.historyOf('job')).toMatchObject({ outcome: 'succeeded' });
    expect(pending.size).toBe(0);
  });

  it('takes its time-outs from FUNCTION_SIZING for the project’s definition', async () => {
    const { timers, pending, now } = manualTimers();
    const generate = stuck();
    const { handlers, admit } = project(generate.handler);
    const orchestrator = new LocalOrchestrator({ handlers, timers, now });
    admit.by = orchestrator;
    await orchestrator.start('job', { job_id: 'job', runners: 1, runner_ids: [0] });
    await generate.invoked();
    expect([...pending.values()].map((t) => t.ms)).toContain(
      FUNCTION_SIZING['Generate images'].timeoutSeconds * 1000,
    );
    expect(generate.calls[0]?.getRemainingTimeInMillis()).toBe(
      FUNCTION_SIZING['Generate images'].timeoutSeconds * 1000,
    );
    await orchestrator.drain(true);
  });
});

/**
 * The project's Task states: `generate` as given, the others answering at once and counted; the
 * job is admitted to the pool with one runner by the orchestrator `admit` names once it exists.
 */
function project(generate: TaskHandlers[string], admission = admissionOutput(2, [], 0)) {
  // By default what a sweep's wake-up carries for one runner, no slot named.
  const calls = { record: 0, finalize: 0 };
  const admit: { by?: LocalOrchestrator } = {};
  const handlers: TaskHandlers = {
    'Wait for the GPU pool': async (input) => {
      const { task_token: token } = input as { task_token: string };
      queueMicrotask(() => admit.by?.sendTaskSuccess(token, JSON.stringify(admission)));
      return {};
    },
    'Generate images': generate,
    'Wait for a GPU slot': async () => ({}),
    'Record failed iterations': async () => {
      calls.record++;
      return {};
    },
    'Finalize job': async () => {
      calls.finalize++;
      return {};
    },
    'Render contact sheet': async () => ({}),
  };
  return { handlers, calls, admit };
}

describe('the state machine, once the pool admits a job', () => {
  it('runs the runners it was admitted with, all at once, each told its share and its named slots', async () => {
    const { timers, now } = manualTimers();
    const inputs: unknown[] = [];
    const slots = ['a:1#0', 'b:1#0', 'a:1#1', 'b:1#1', 'c:1#0'];
    const { handlers, admit } = project(
      async (input) => {
        inputs.push(input);
        return { images: 1 };
      },
      admissionOutput(
        5,
        slots.map((key) => parseSlotKey(key) as SlotRef),
        1000,
      ),
    );
    const orchestrator = new LocalOrchestrator({ handlers, timers, now });
    admit.by = orchestrator;
    // Planned for 8 runners (16 slots); 5 slots were free.
    await orchestrator.start('job', { job_id: 'job', runners: 8, runner_ids: [0, 1, 2, 3, 4, 5, 6, 7] });
    await orchestrator.drain(false);
    const told = { job_id: 'job', runners: 3, assigned: slots, assigned_until: 1000 + ASSIGNED_MS };
    expect(inputs).toEqual([0, 1, 2].map((runner) => ({ ...told, runner })));
  });
});

describe('the state machine, when a runner’s function fails on its own', () => {
  const GENERATE_MS = FUNCTION_SIZING['Generate images'].timeoutSeconds * 1000;
  const start = async (generate: TaskHandlers[string], timers = manualTimers()) => {
    const { handlers, calls, admit } = project(generate);
    const orchestrator = new LocalOrchestrator({
      handlers,
      timers: timers.timers,
      now: timers.now,
      // Back-offs of no length: the retries themselves are what the tests count.
      retryIntervalOverrides: { 'Generate images': 0 },
    });
    admit.by = orchestrator;
    await orchestrator.start('job', { job_id: 'job', runners: 1, runner_ids: [0] });
    return { orchestrator, calls };
  };

  it('starts a runner that timed out again, recording nothing failed', async () => {
    const timers = manualTimers();
    const first = stuck();
    let attempts = 0;
    const { orchestrator, calls } = await start((input, context) => {
      attempts++;
      return attempts === 1 ? first.handler(input, context) : Promise.resolve({ images: 1 });
    }, timers);
    await first.invoked();
    timers.fire(GENERATE_MS);
    await orchestrator.drain(false);
    expect(attempts).toBe(2);
    expect(calls).toEqual({ record: 0, finalize: 1 });
  });

  it.each([
    'Sandbox.Timedout',
    'Lambda.Unknown',
    'Runtime.ExitError',
    'Runtime.OutOfMemory',
    'TransientAwsError',
  ])('starts it again after %s, recording nothing failed', async (name) => {
    let attempts = 0;
    const { orchestrator, calls } = await start(async () => {
      if (++attempts > 1) return { images: 1 };
      if (name === 'TransientAwsError') throw new TransientAwsError('throttled');
      const error = new Error('died');
      error.name = name;
      throw error;
    });
    await orchestrator.drain(false);
    expect(attempts).toBe(2);
    expect(calls).toEqual({ record: 0, finalize: 1 });
  });

  it('records its iterations failed once the retries are spent: nothing retries for ever', async () => {
    let attempts = 0;
    const { orchestrator, calls } = await start(async () => {
      attempts++;
      const error = new Error('Runtime exited with error: signal: killed');
      error.name = 'Runtime.OutOfMemory';
      throw error;
    });
    await orchestrator.drain(false);
    expect(attempts).toBe(4);
    expect(calls).toEqual({ record: 1, finalize: 1 });
  });
});
