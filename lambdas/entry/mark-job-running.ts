import { createMarkJobRunningHandler } from '../mark-job-running.ts';
import { lambdaTask, workerDepsFromEnv } from './worker-runtime.ts';

// Cold start: configuration and clients once per container; a bad setting fails here, by name.
const deps = await workerDepsFromEnv(process.env);

/** The "Mark job running" Task state's Lambda. */
export const handler = lambdaTask('Mark job running', createMarkJobRunningHandler(deps));
