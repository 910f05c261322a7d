import { createRecordFailedIterationHandler } from '../record-failed-iteration.ts';
import { lambdaTask, workerDepsFromEnv } from './worker-runtime.ts';

// Cold start: configuration and clients once per container; a bad setting fails here, by name.
const deps = await workerDepsFromEnv(process.env);

/** The "Record failed iterations" Task state's Lambda. */
export const handler = lambdaTask('Record failed iterations', createRecordFailedIterationHandler(deps));
