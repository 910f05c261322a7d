import { z } from 'zod';
import type { ToolContext } from '../deps.ts';
import { toolInput } from '../tool-input.ts';
import { toolResult } from '../tool-result.ts';
import type { ToolHost } from './tool-host.ts';

export const PresetsOutput = z.object({
  default_preset: z.string(),
  presets: z.array(
    z.object({
      name: z.string(),
      description: z.string().optional(),
      // JSON values, not unknown: an untyped value schema ({}) accepts anything and is flagged
      // as unportable by schema linters (the Inspector's --strict).
      defaults: z
        .record(z.string(), z.json())
        .describe('The values a job gets unless its arguments override them.'),
    }),
  ),
});

/** Built once: every request registers the tools anew. */
const NoInput = toolInput({});

export function registerPresetsTool(server: ToolHost, ctx: ToolContext): void {
  server.registerTool(
    'sdreforge_presets',
    {
      title: 'List generation presets',
      description:
        'The server-side presets sdreforge_batch_start accepts as `preset`, with the defaults each sets ' +
        '(size, steps, sampler, prompt prefix/suffix, negative prompt, hires fix, ADetailer...). ' +
        'Pick one that fits, then override only what you need.',
      inputSchema: NoInput,
      outputSchema: PresetsOutput,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async () => {
      const { presets } = ctx.deps;
      const list = presets
        .list()
        .map((p) => ({ name: p.name, description: p.description, defaults: p.settings }));
      const names = list.map((p) => p.name).join(', ');
      return toolResult(`${list.length} presets (default ${presets.defaultName}): ${names}`, {
        default_preset: presets.defaultName,
        presets: list,
      });
    },
  );
}
