import { WaitTaskInput } from '../core/workflow/task-io.ts';
import { waitForSlot } from '../core/workflow/wait-for-slot.ts';
import type { WorkerDeps } from './composition.ts';

export const createWaitForSlotHandler = (deps: WorkerDeps) => (event: unknown) =>
  waitForSlot(WaitTaskInput.parse(event), deps);
