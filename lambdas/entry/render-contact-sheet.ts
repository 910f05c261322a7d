import { renderContactSheet } from '../../adapters/sharp-contact-sheet.ts';
import { lambdaTaskFromEnv } from './worker-runtime.ts';

/** The "Render contact sheet" Task state's Lambda: the one worker that draws. */
export const handler = await lambdaTaskFromEnv('Render contact sheet', { renderContactSheet });
