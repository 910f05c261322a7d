import type { TaskStateName } from '../workflow/definition.ts';

/**
 * Each function's role, by the id its construct has in the CDK app: the embedded stack signs each
 * function's store requests with that role's keys, and the IAM policy snapshot is keyed the same.
 */
export const TASK_ROLES = {
  'Generate images': 'GenerateImages',
  'Wait for the GPU pool': 'WaitForSlot',
  'Wait for a GPU slot': 'WaitForSlot',
  'Record failed iterations': 'RecordFailedIteration',
  'Render contact sheet': 'RenderContactSheet',
  'Finalize job': 'FinalizeJob',
} as const satisfies Record<TaskStateName, string>;

export type FunctionRole = (typeof TASK_ROLES)[TaskStateName] | 'Gateway';
export const FUNCTION_ROLES: FunctionRole[] = ['Gateway', ...new Set(Object.values(TASK_ROLES))];

/**
 * The embedded stack's own work, which AWS does by itself: creating the table, expiring items and
 * objects (DynamoDB's TTL, S3's lifecycle rules) and resuming executions after a restart.
 */
export const STACK_ROLE = 'Stack';
export type StoreRole = FunctionRole | typeof STACK_ROLE;
export const STORE_ROLES: StoreRole[] = [...FUNCTION_ROLES, STACK_ROLE];
