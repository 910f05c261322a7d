import { createFinalizeJobHandler } from '../finalize-job.ts';
import { lambdaTask, workerDepsFromEnv } from './worker-runtime.ts';

// Cold start: configuration and clients once per container; a bad setting fails here, by name.
const deps = await workerDepsFromEnv(process.env);

/** The "Finalize job" Task state's Lambda. */
export const handler = lambdaTask('Finalize job', createFinalizeJobHandler(deps));
