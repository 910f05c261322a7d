import { lambdaTaskFromEnv } from './worker-runtime.ts';

/** The function the "Wait for a GPU slot" callback task invokes with its token. */
export const handler = await lambdaTaskFromEnv('Wait for a GPU slot');
