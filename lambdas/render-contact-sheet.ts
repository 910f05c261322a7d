import { type ContactSheetDeps, renderJobContactSheet } from '../core/workflow/render-contact-sheet.ts';
import { JobTaskInput } from '../core/workflow/task-io.ts';

export const createRenderContactSheetHandler = (deps: ContactSheetDeps) => async (event: unknown) => {
  const { job_id, images } = await renderJobContactSheet(JobTaskInput.parse(event), deps);
  // Keys and counts only: the sheet itself never rides through the workflow's state.
  return { job_id, images };
};
