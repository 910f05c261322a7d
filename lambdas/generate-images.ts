import { generateRun } from '../core/workflow/generate-run.ts';
import { RunTaskInput } from '../core/workflow/task-io.ts';
import type { TaskContext, WorkerDeps } from './composition.ts';

/** Time kept back from the Lambda's own time-out: the last call's images still upload and count. */
const STORE_MARGIN_MS = 30_000;

/**
 * The run's budget is the time its invocation has left (Lambda's context, or the embedded
 * orchestrator's, which enforces the same time-out) less the margin, and never more than
 * runBudgetMs (which the embedded stack's tests shorten).
 */
export const createGenerateImagesHandler = (deps: WorkerDeps) => (event: unknown, context?: TaskContext) => {
  const left = context ? context.getRemainingTimeInMillis() - STORE_MARGIN_MS : Number.POSITIVE_INFINITY;
  const budget = Math.min(left, deps.runBudgetMs);
  return generateRun(RunTaskInput.parse(event), deps, Date.now() + budget, context?.signal);
};
