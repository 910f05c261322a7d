import { createWaitForSlotHandler } from '../wait-for-slot.ts';
import { lambdaTask, workerDepsFromEnv } from './worker-runtime.ts';

// Cold start: configuration and clients once per container; a bad setting fails here, by name.
const deps = await workerDepsFromEnv(process.env);

/** The function the "Wait for a GPU slot" callback task invokes with its token. */
export const handler = lambdaTask('Wait for a GPU slot', createWaitForSlotHandler(deps));
