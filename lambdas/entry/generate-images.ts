import { lambdaTaskFromEnv } from './worker-runtime.ts';

/** The "Generate images" Task state's Lambda. */
export const handler = await lambdaTaskFromEnv('Generate images');
