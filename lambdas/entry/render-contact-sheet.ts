import { renderContactSheet } from '../adapters/sharp-contact-sheet.ts';
import { createRenderContactSheetHandler } from '../render-contact-sheet.ts';
import { lambdaTask, workerDepsFromEnv } from './worker-runtime.ts';

// Cold start: configuration and clients once per container; a bad setting fails here, by name.
const deps = await workerDepsFromEnv(process.env);

/** The "Render contact sheet" Task state's Lambda. */
export const handler = lambdaTask(
  'Render contact sheet',
  createRenderContactSheetHandler({ ...deps, render: renderContactSheet }),
);
