import type { ClientOptions } from '../adapters/aws-clients.ts';
import { documentClient, s3Client } from '../adapters/aws-clients.ts';
import { DynamoDbHostPool } from '../adapters/dynamodb-host-pool.ts';
import { DynamoDbJobHousekeeping } from '../adapters/dynamodb-job-housekeeping.ts';
import { DynamoDbJobStore } from '../adapters/dynamodb-job-store.ts';
import { S3ImageStore } from '../adapters/s3-image-store.ts';
import type { Orchestrator, TaskCallbacks } from '../core/ports.ts';
import type { TaskStateName } from '../workflow/definition.ts';
import {
  createGatewayStores,
  createWorkerDeps,
  type ImageAdapters,
  type StoresSetup,
  type TaskHandler,
  taskHandler,
  type WorkerSetup,
} from './composition.ts';
import { type FunctionRole, STACK_ROLE, type StoreRole, TASK_ROLES } from './function-roles.ts';

/*
 * The embedded stack's part of the one composition: every function built as AWS runs it, each
 * with its own role's clients.
 */

/** The embedded stores: where they are, and each role's client options (its own keys). */
export interface RoleStores {
  tableName: string;
  bucketName: string;
  clientsFor(role: StoreRole): ClientOptions;
}

/** A Step Functions call's IAM check for a function role (the tests evaluate the synthesized policy). */
export type StatesAuthorizer = (role: FunctionRole, action: string, resource: string) => Promise<void>;

/** The state machine's ARN and its executions' in the embedded stack's account (what the policies name). */
export interface StatesArns {
  stateMachine: string;
  execution(jobId: string): string;
}

type EmbeddedWorkerSetup = Omit<WorkerSetup, keyof StoresSetup>;

/**
 * The embedded stack's functions, each as AWS runs it: its own clients signed with its own role's
 * keys (so the stores' front can hold it to that role's policy), and its Step Functions calls
 * checked against that policy too. Also the stack's own maintenance, which stands in for what AWS
 * does itself (TTL, lifecycle, durable executions), under the stack's role.
 */
export function createEmbeddedFunctions(
  stores: RoleStores,
  setup: EmbeddedWorkerSetup,
  states?: { authorize: StatesAuthorizer; arns: StatesArns },
) {
  const on = (role: StoreRole): StoresSetup => ({
    tableName: stores.tableName,
    bucketName: stores.bucketName,
    clients: stores.clientsFor(role),
  });
  const workers = Object.fromEntries(
    (Object.keys(TASK_ROLES) as TaskStateName[]).map((state) => {
      const role = TASK_ROLES[state];
      const callbacks = states ? authorizedCallbacks(setup.callbacks, role, states) : setup.callbacks;
      return [state, createWorkerDeps({ ...setup, ...on(role), callbacks })];
    }),
  ) as Record<TaskStateName, ReturnType<typeof createWorkerDeps>>;
  const { tokens, ...gateway } = createGatewayStores({ ...on('Gateway'), fetchPolicy: setup.fetchPolicy });
  const own = on(STACK_ROLE);
  const db = documentClient(own.clients);
  return {
    workers,
    handlers: (images: Partial<ImageAdapters>) =>
      Object.fromEntries(
        (Object.keys(workers) as TaskStateName[]).map((state) => [
          state,
          taskHandler(state, workers[state], images),
        ]),
      ) as Record<TaskStateName, TaskHandler>,
    gateway,
    tokens,
    /** The gateway's orchestrator, held to the gateway role's Step Functions grants. */
    gatewayOrchestrator: (orchestrator: Orchestrator): Orchestrator =>
      states ? authorizedOrchestrator(orchestrator, states) : orchestrator,
    maintenance: {
      housekeeping: new DynamoDbJobHousekeeping(db, own.tableName),
      jobs: new DynamoDbJobStore(db, own.tableName),
      images: new S3ImageStore(s3Client(own.clients), own.bucketName),
      pool: new DynamoDbHostPool(db, own.tableName, []),
    },
  };
}

function authorizedCallbacks(
  callbacks: TaskCallbacks,
  role: FunctionRole,
  { authorize, arns }: { authorize: StatesAuthorizer; arns: StatesArns },
): TaskCallbacks {
  return {
    succeed: async (token, output) => {
      await authorize(role, 'states:SendTaskSuccess', arns.stateMachine);
      return callbacks.succeed(token, output);
    },
  };
}

function authorizedOrchestrator(
  orchestrator: Orchestrator,
  { authorize, arns }: { authorize: StatesAuthorizer; arns: StatesArns },
): Orchestrator {
  return {
    start: async (jobId, input) => {
      await authorize('Gateway', 'states:StartExecution', arns.stateMachine);
      return orchestrator.start(jobId, input);
    },
    stop: async (jobId, cause) => {
      await authorize('Gateway', 'states:StopExecution', arns.execution(jobId));
      return orchestrator.stop(jobId, cause);
    },
  };
}
