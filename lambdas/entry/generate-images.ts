import { createGenerateImagesHandler } from '../generate-images.ts';
import { lambdaTask, workerDepsFromEnv } from './worker-runtime.ts';

// Cold start: configuration and clients once per container; a bad setting fails here, by name.
const deps = await workerDepsFromEnv(process.env);

/** The "Generate images" Task state's Lambda. */
export const handler = lambdaTask('Generate images', createGenerateImagesHandler(deps));
