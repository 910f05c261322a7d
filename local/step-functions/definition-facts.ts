import { type TaskKind, taskKind } from './history.ts';
import { QUOTAS } from './quotas.ts';

/** What the embedded orchestrator needs to know of each Task state of a definition. */
export interface TaskStateFacts {
  kind: TaskKind;
  timeoutSeconds?: number;
  heartbeatSeconds?: number;
}

interface StateJson {
  Type: string;
  Resource?: string;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  HeartbeatSeconds?: number;
  HeartbeatSecondsPath?: string;
  MaxConcurrency?: number;
  ItemProcessor?: { States: Record<string, StateJson> };
  Iterator?: { States: Record<string, StateJson> };
  Branches?: Array<{ States: Record<string, StateJson> }>;
}

export interface DefinitionJson {
  States: Record<string, StateJson>;
}

/** Resources the embedded orchestrator runs, as Step Functions would. */
const LAMBDA_FUNCTION = /^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]+$/;
const SUPPORTED_INTEGRATIONS = new Set([
  'arn:aws:states:::lambda:invoke',
  'arn:aws:states:::lambda:invoke.waitForTaskToken',
]);

function* walk(states: Record<string, StateJson>): Generator<[string, StateJson]> {
  for (const [name, state] of Object.entries(states)) {
    yield [name, state];
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested) yield* walk(nested.States);
    for (const branch of state.Branches ?? []) yield* walk(branch.States);
  }
}

/**
 * Each Task state's kind and time limits, checked for what would run differently here than in
 * AWS: a resource this orchestrator cannot run, a Task without TimeoutSeconds (aws-local-
 * stepfunctions would stop it after 60 s, Step Functions never), a heartbeat on a task with no
 * callback, heartbeat or time-out paths (not supported here).
 */
export function taskStateFacts(definition: DefinitionJson): Map<string, TaskStateFacts> {
  const facts = new Map<string, TaskStateFacts>();
  for (const [name, state] of walk(definition.States)) {
    if (state.Type !== 'Task') continue;
    const resource = state.Resource ?? '';
    if (!LAMBDA_FUNCTION.test(resource) && !SUPPORTED_INTEGRATIONS.has(resource)) {
      throw new Error(`Task "${name}": the embedded orchestrator does not run resource ${resource}`);
    }
    if (state.TimeoutSecondsPath || state.HeartbeatSecondsPath) {
      throw new Error(`Task "${name}": TimeoutSecondsPath and HeartbeatSecondsPath are not supported here`);
    }
    if (state.TimeoutSeconds === undefined) {
      throw new Error(
        `Task "${name}": set TimeoutSeconds (Step Functions has no default; aws-local-stepfunctions stops a task after 60 s)`,
      );
    }
    const kind = taskKind(resource);
    if (state.HeartbeatSeconds !== undefined && kind !== 'callback') {
      throw new Error(`Task "${name}": HeartbeatSeconds needs a callback (.waitForTaskToken) resource`);
    }
    if (state.HeartbeatSeconds !== undefined && state.HeartbeatSeconds >= state.TimeoutSeconds) {
      throw new Error(
        `Task "${name}": HeartbeatSeconds must be below TimeoutSeconds, as Step Functions requires`,
      );
    }
    facts.set(name, {
      kind,
      timeoutSeconds: state.TimeoutSeconds,
      ...(state.HeartbeatSeconds !== undefined ? { heartbeatSeconds: state.HeartbeatSeconds } : {}),
    });
  }
  return facts;
}

/** Map states with a literal MaxConcurrency above the inline quota run 40 at a time, as in AWS. */
export function clampMapConcurrency<T extends DefinitionJson>(definition: T): T {
  const copy = structuredClone(definition);
  for (const [, state] of walk(copy.States)) {
    if (state.Type === 'Map' && (state.MaxConcurrency ?? 0) > QUOTAS.inlineMapConcurrency) {
      state.MaxConcurrency = QUOTAS.inlineMapConcurrency;
    }
  }
  return copy;
}

/** Names of the Map states whose concurrency comes from a path, with that path. */
export function mapConcurrencyPaths(definition: DefinitionJson): Map<string, string> {
  const paths = new Map<string, string>();
  for (const [name, state] of walk(definition.States)) {
    const path = (state as { MaxConcurrencyPath?: string }).MaxConcurrencyPath;
    if (state.Type === 'Map' && path) paths.set(name, path);
  }
  return paths;
}
