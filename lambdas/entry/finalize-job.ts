import { lambdaTaskFromEnv } from './worker-runtime.ts';

/** The "Finalize job" Task state's Lambda. */
export const handler = await lambdaTaskFromEnv('Finalize job');
