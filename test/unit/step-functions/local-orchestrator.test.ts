import { describe, expect, it } from 'vitest';
import type { DefinitionJson } from '../../../local/step-functions/definition-facts.ts';
import { LocalOrchestrator, type TaskHandlers } from '../../../local/step-functions/local-orchestrator.ts';
import { QUOTAS } from '../../../local/step-functions/quotas.ts';
import { TaskTokens } from '../../../local/step-functions/task-tokens.ts';
import { manualTimers } from '../../support/manual-timers.ts';

/**
 * The embedded orchestrator against small definitions whose Step Functions histories are known
 * (event sequences recorded against AWS: see local/step-functions/history.ts).
 */

const FN = 'arn:aws:lambda:us-east-1:000000000000:function:work';
const CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

async function run(
  definition: DefinitionJson,
  handlers: TaskHandlers,
  input: Record<string, unknown> = {},
  tokens?: TaskTokens,
) {
  const orchestrator = new LocalOrchestrator({
    definition,
    handlers,
    tokens,
    retryIntervalOverrides: { Work: 0 },
  });
  await orchestrator.start('job', input);
  return orchestrator;
}

async function ended(orchestrator: LocalOrchestrator) {
  await orchestrator.drain(false);
  const record = orchestrator.historyOf('job');
  if (!record) throw new Error('no record of the execution');
  return record;
}

/** Resolves once a callback task has handed out its token (the invoked function received it). */
function tokenCatcher() {
  let give: (token: string) => void = () => {};
  const token = new Promise<string>((resolve) => {
    give = resolve;
  });
  const handler = async (payload: unknown) => {
    give((payload as { token: string }).token);
    return { ignored: true };
  };
  return { token, handler };
}

/** An inline Map over $.items whose iterations are one Pass state. */
const passMap = (map: object, more: object = {}): DefinitionJson =>
  ({
    StartAt: 'Each',
    States: {
      Each: {
        Type: 'Map',
        ItemsPath: '$.items',
        ItemProcessor: { StartAt: 'Step', States: { Step: { Type: 'Pass', End: true } } },
        ...map,
      },
      ...more,
    },
  }) as unknown as DefinitionJson;

/** A callback task handing its token to FN; it ends the execution unless `extra` names a Next. */
const callbackDefinition = (extra: object = {}, more: object = {}): DefinitionJson =>
  ({
    StartAt: 'Wait',
    States: {
      Wait: {
        Type: 'Task',
        Resource: CALLBACK,
        Parameters: { FunctionName: FN, Payload: { 'token.$': '$$.Task.Token' } },
        TimeoutSeconds: 3600,
        HeartbeatSeconds: 60,
        ...('Next' in extra ? {} : { End: true }),
        ...extra,
      },
      ...more,
    },
  }) as unknown as DefinitionJson;

describe('history events, counted as Step Functions writes them', () => {
  it('a function task that succeeds: 7 events', async () => {
    const definition = {
      StartAt: 'Work',
      States: { Work: { Type: 'Task', Resource: FN, TimeoutSeconds: 10, End: true } },
    } as unknown as DefinitionJson;
    const record = await ended(await run(definition, { Work: async () => ({ ok: true }) }));
    // ExecutionStarted, TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted,
    // LambdaFunctionSucceeded, TaskStateExited, ExecutionSucceeded.
    expect(record).toEqual({ outcome: 'succeeded', historyEvents: 7 });
  });

  it('a retry adds three events per attempt; a caught failure exits the task and goes on', async () => {
    let calls = 0;
    const definition = {
      StartAt: 'Work',
      States: {
        Work: {
          Type: 'Task',
          Resource: FN,
          TimeoutSeconds: 10,
          Retry: [{ ErrorEquals: ['Flaky'], MaxAttempts: 1, IntervalSeconds: 1 }],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Recover' }],
          End: true,
        },
        Recover: { Type: 'Pass', End: true },
      },
    } as unknown as DefinitionJson;
    const record = await ended(
      await run(definition, {
        Work: async () => {
          calls++;
          const error = new Error(`attempt ${calls}`);
          error.name = 'Flaky';
          throw error;
        },
      }),
    );
    // ES, TaskStateEntered, (Scheduled, Started, Failed) x2, TaskStateExited, PassStateEntered,
    // PassStateExited, ExecutionSucceeded.
    expect(calls).toBe(2);
    expect(record).toEqual({ outcome: 'succeeded', historyEvents: 12 });
  });

  it('an inline Map adds four events and two per iteration around its states', async () => {
    const definition = passMap({ Next: 'Done' }, { Done: { Type: 'Succeed' } });
    const record = await ended(await run(definition, {}, { items: [1, 2] }));
    // ES, MapStateEntered, MapStateStarted, (MapIterationStarted, PassStateEntered, PassStateExited,
    // MapIterationSucceeded) x2, MapStateSucceeded, MapStateExited, SucceedStateEntered,
    // SucceedStateExited, ExecutionSucceeded.
    expect(record).toEqual({ outcome: 'succeeded', historyEvents: 16 });
  });

  it('a callback task answered by SendTaskSuccess: 8 events, however many heartbeats it had', async () => {
    const { timers } = manualTimers();
    const tokens = new TaskTokens(timers);
    const { token, handler } = tokenCatcher();
    const orchestrator = await run(
      callbackDefinition({ ResultPath: '$.answer' }),
      { Wait: handler },
      {},
      tokens,
    );
    const given = await token;
    for (let i = 0; i < 10; i++) orchestrator.sendTaskHeartbeat(given);
    orchestrator.sendTaskSuccess(given, JSON.stringify({ slot: 'yours' }));
    // ES, TaskStateEntered, TaskScheduled, TaskStarted, TaskSubmitted, TaskSucceeded,
    // TaskStateExited, ExecutionSucceeded.
    expect(await ended(orchestrator)).toEqual({ outcome: 'succeeded', historyEvents: 8 });
  });
});

describe('callback tasks (.waitForTaskToken)', () => {
  it('hand the invoked function a token of its own and wait, its output becoming the result', async () => {
    const results: unknown[] = [];
    const tokens = new TaskTokens(manualTimers().timers);
    const { token, handler } = tokenCatcher();
    const definition = callbackDefinition(
      { ResultPath: '$.answer', Next: 'Look' },
      {
        Look: { Type: 'Task', Resource: FN, TimeoutSeconds: 10, End: true },
      },
    );
    const orchestrator = await run(
      definition,
      {
        Wait: handler,
        Look: async (input) => {
          results.push(input);
          return {};
        },
      },
      { job: 'x' },
      tokens,
    );
    const given = await token;
    expect(given).toMatch(/^sdbatch-local-task:/);
    expect(tokens.waiting).toBe(1);
    orchestrator.sendTaskSuccess(given, JSON.stringify({ woken: true }));
    await ended(orchestrator);
    expect(results).toEqual([{ job: 'x', answer: { woken: true } }]);
    expect(tokens.waiting).toBe(0);
  });

  it('pad their tokens to the length asked (AWS-sized), and still take answers', async () => {
    const tokens = new TaskTokens(manualTimers().timers, 1000);
    const { token, result } = tokens.mint('execution');
    expect(token).toHaveLength(1000);
    expect(token).toMatch(/^sdbatch-local-task:/);
    tokens.sendTaskSuccess(token, JSON.stringify({ woken: true }));
    expect(await result).toEqual({ woken: true });
  });

  it('fail with the error SendTaskFailure names, which a Catch matches', async () => {
    const tokens = new TaskTokens(manualTimers().timers);
    const { token, handler } = tokenCatcher();
    const definition = callbackDefinition(
      { Next: 'Done', Catch: [{ ErrorEquals: ['NoLuck'], Next: 'Caught', ResultPath: '$.error' }] },
      { Done: { Type: 'Fail', Error: 'NotCaught' }, Caught: { Type: 'Succeed' } },
    );
    const orchestrator = await run(definition, { Wait: handler }, {}, tokens);
    orchestrator.sendTaskFailure(await token, 'NoLuck', 'the pool said no');
    expect(await ended(orchestrator)).toMatchObject({ outcome: 'succeeded' });
  });

  it('time out with States.Timeout when the heartbeat clock runs out, as Step Functions records it', async () => {
    const { timers, fire, pending } = manualTimers();
    const tokens = new TaskTokens(timers);
    const { token, handler } = tokenCatcher();
    const orchestrator = await run(callbackDefinition(), { Wait: handler }, {}, tokens);
    const given = await token;
    // A heartbeat restarts the clock: the old timer is gone, a new one of the same length runs.
    const before = [...pending.keys()];
    orchestrator.sendTaskHeartbeat(given);
    expect([...pending.keys()]).not.toEqual(before);
    fire(60_000);
    const record = await ended(orchestrator);
    expect(record).toMatchObject({ outcome: 'failed', error: { name: 'States.Timeout' } });
    // A late answer finds the task closed.
    expect(() => orchestrator.sendTaskSuccess(given, '{}')).toThrow(
      expect.objectContaining({ name: 'TaskTimedOut' }),
    );
  });

  it('answer TaskDoesNotExist, InvalidToken and InvalidOutput like the API', async () => {
    const tokens = new TaskTokens(manualTimers().timers);
    const { token, handler } = tokenCatcher();
    const orchestrator = await run(callbackDefinition(), { Wait: handler }, {}, tokens);
    const given = await token;
    expect(() => tokens.sendTaskSuccess('sdbatch-local-task:nope', '{}')).toThrow(
      expect.objectContaining({ name: 'TaskDoesNotExist' }),
    );
    expect(() => tokens.sendTaskHeartbeat('garbage')).toThrow(
      expect.objectContaining({ name: 'InvalidToken' }),
    );
    expect(() => tokens.sendTaskSuccess(given, 'not json')).toThrow(
      expect.objectContaining({ name: 'InvalidOutput' }),
    );
    await orchestrator.stop('job');
    expect(() => tokens.sendTaskSuccess(given, '{}')).toThrow(
      expect.objectContaining({ name: 'TaskTimedOut' }),
    );
    expect(orchestrator.historyOf('job')?.outcome).toBe('aborted');
  });
});

describe('quotas', () => {
  it(`fail an execution whose history passes ${QUOTAS.historyEvents} events, as a retry loop that polls would`, async () => {
    const definition = {
      StartAt: 'Poll',
      States: {
        Poll: {
          Type: 'Task',
          Resource: FN,
          TimeoutSeconds: 10,
          Retry: [{ ErrorEquals: ['NoSlotAvailableError'], MaxAttempts: 100000, IntervalSeconds: 1 }],
          End: true,
        },
      },
    } as unknown as DefinitionJson;
    let polls = 0;
    const orchestrator = new LocalOrchestrator({
      definition,
      handlers: {
        Poll: async () => {
          polls++;
          const error = new Error('every slot is busy');
          error.name = 'NoSlotAvailableError';
          throw error;
        },
      },
      retryIntervalOverrides: { Poll: 0 },
    });
    await orchestrator.start('job', {});
    const record = await ended(orchestrator);
    expect(record.outcome).toBe('failed');
    expect(record.error?.message).toMatch(/25000 events/);
    expect(record.historyEvents).toBeGreaterThan(QUOTAS.historyEvents);
    // Three events a poll: about 8,300 polls, not the 100,000 the Retry allowed.
    expect(polls).toBeLessThan(9000);
  }, 60_000);

  it('fail a task whose result passes 256 KiB with States.DataLimitExceeded, which a Catch can take', async () => {
    const definition = {
      StartAt: 'Big',
      States: {
        Big: {
          Type: 'Task',
          Resource: FN,
          TimeoutSeconds: 10,
          Catch: [{ ErrorEquals: ['States.DataLimitExceeded'], Next: 'Small', ResultPath: '$.error' }],
          End: true,
        },
        Small: { Type: 'Task', Resource: FN, TimeoutSeconds: 10, End: true },
      },
    } as unknown as DefinitionJson;
    const caught: unknown[] = [];
    const orchestrator = await run(definition, {
      Big: async () => ({ blob: 'x'.repeat(QUOTAS.payloadBytes) }),
      Small: async (input) => {
        caught.push(input);
        return {};
      },
    });
    expect((await ended(orchestrator)).outcome).toBe('succeeded');
    expect(caught).toEqual([
      { error: { Error: 'States.DataLimitExceeded', Cause: expect.stringMatching(/262144 bytes/) } },
    ]);
  });

  it('refuse an execution input over 256 KiB', async () => {
    const orchestrator = new LocalOrchestrator({
      definition: {
        StartAt: 'P',
        States: { P: { Type: 'Pass', End: true } },
      } as unknown as DefinitionJson,
      handlers: {},
    });
    await expect(orchestrator.start('job', { blob: 'x'.repeat(QUOTAS.payloadBytes) })).rejects.toMatchObject({
      name: 'States.DataLimitExceeded',
    });
  });

  it('fail an inline Map that would need more than 40 iterations at once', async () => {
    const definition = passMap({ MaxConcurrencyPath: '$.width', End: true });
    const items = Array.from({ length: 41 }, (_, i) => i);
    const wide = await ended(await run(definition, {}, { items, width: 41 }));
    expect(wide.outcome).toBe('failed');
    expect(wide.error?.message).toMatch(/at most 40/);
    const narrow = await ended(await run(definition, {}, { items, width: 40 }));
    expect(narrow.outcome).toBe('succeeded');
  });

  it('refuse a definition with a Task that has no TimeoutSeconds, or a resource it cannot run', () => {
    const withTask = (task: object) =>
      ({ StartAt: 'T', States: { T: { Type: 'Task', End: true, ...task } } }) as unknown as DefinitionJson;
    const handlers = { T: async () => ({}) };
    expect(() => new LocalOrchestrator({ definition: withTask({ Resource: FN }), handlers })).toThrow(
      /TimeoutSeconds/,
    );
    expect(
      () =>
        new LocalOrchestrator({
          definition: withTask({ Resource: 'arn:aws:states:::sqs:sendMessage', TimeoutSeconds: 5 }),
          handlers,
        }),
    ).toThrow(/does not run resource/);
    expect(
      () =>
        new LocalOrchestrator({
          definition: withTask({ Resource: FN, TimeoutSeconds: 5, HeartbeatSeconds: 2 }),
          handlers,
        }),
    ).toThrow(/callback/);
  });
});
