import { AdmitTaskInput, WaitTaskInput } from '../core/workflow/task-io.ts';
import { waitForAdmission, waitForSlot } from '../core/workflow/wait-for-slot.ts';
import type { WorkerDeps } from './composition.ts';

/** Both waits' function: a runner's wait names its runner, the job's own wait does not. */
export const createWaitForSlotHandler = (deps: WorkerDeps) => (event: unknown) =>
  typeof event === 'object' && event !== null && 'runner' in event
    ? waitForSlot(WaitTaskInput.parse(event), deps)
    : waitForAdmission(AdmitTaskInput.parse(event), deps);
