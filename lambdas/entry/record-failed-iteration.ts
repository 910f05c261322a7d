import { lambdaTaskFromEnv } from './worker-runtime.ts';

/** The "Record failed iterations" Task state's Lambda. */
export const handler = await lambdaTaskFromEnv('Record failed iterations');
