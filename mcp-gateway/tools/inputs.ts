import { z } from 'zod';
import { JobStatus } from '../../core/job-status.ts';
import { StartInputShape } from '../../core/params/generation.ts';
import { toolInput } from '../tool-input.ts';

// The input schemas of the tools whose arguments the CLI takes as flags: kept apart from the
// tools so the CLI reads them (and checks a command line) without loading the MCP server.

export const StartToolInput = toolInput({
  ...StartInputShape,
  client_token: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe(
      'Any unique string; sending the same call again with it returns the same job instead of a new one.',
    ),
});

export const ListInput = toolInput({
  status: JobStatus.optional().describe('Only jobs with this status.'),
  cursor: z.string().max(2048).optional().describe('next_cursor from the previous page.'),
  limit: z.number().int().min(1).max(100).optional().describe('Jobs per page (1-100, default 20).'),
});
