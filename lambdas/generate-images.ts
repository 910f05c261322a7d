import type { Context } from 'aws-lambda';
import { generateRun } from '../core/workflow/generate-run.ts';
import { RunTaskInput } from '../core/workflow/task-io.ts';
import type { WorkerDeps } from './composition.ts';

/** Time kept back from the Lambda's own time-out: the last call's images still upload and count. */
const STORE_MARGIN_MS = 30_000;

export const createGenerateImagesHandler = (deps: WorkerDeps) => (event: unknown, context?: Context) => {
  const budget = context ? context.getRemainingTimeInMillis() - STORE_MARGIN_MS : deps.runBudgetMs;
  return generateRun(RunTaskInput.parse(event), deps, Date.now() + budget);
};
