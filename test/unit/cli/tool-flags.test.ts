import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type PropertySchema, toolArguments } from '../../../cli/tool-flags.ts';
import { ListInput, StartToolInput } from '../../../mcp-gateway/tools/inputs.ts';

/** A tool's arguments as the server lists them: JSON Schema from its zod input schema. */
const listed = (schema: z.ZodType) =>
  (z.toJSONSchema(schema, { io: 'input' }) as { properties: Record<string, PropertySchema> }).properties;
const START = listed(StartToolInput);
const LIST = listed(ListInput);

describe('toolArguments', () => {
  it("reads each flag as the type the tool's schema gives it", () => {
    expect(
      toolArguments(
        [
          '--batch-size',
          '4',
          '--cfg-scale=6.5',
          '--sampler-name',
          'Euler a',
          '--negative-prompt',
          '42',
          '--adetailer',
          '[{"model":"face_yolov8n.pt"}]',
          '--enable-hr',
          'a cat',
          '--tiling',
          'false',
          '--seed',
          '-1',
        ],
        START,
      ),
    ).toEqual({
      positional: ['a cat'],
      named: {
        batch_size: 4,
        cfg_scale: 6.5,
        sampler_name: 'Euler a',
        // Text stays text, even when it reads as a number.
        negative_prompt: '42',
        adetailer: [{ model: 'face_yolov8n.pt' }],
        // A switch takes no value: the prompt after it stays the prompt.
        enable_hr: true,
        tiling: false,
        seed: -1,
      },
    });
    expect(toolArguments(['--status', 'running', '--limit', '5'], LIST)).toEqual({
      positional: [],
      named: { status: 'running', limit: 5 },
    });
  });

  it('refuses a flag it cannot read, naming the flag and the type it takes', () => {
    const wrong = (...args: string[]) => toolArguments(args, START);
    expect(wrong('a cat', '--n-iter')).toEqual({ wrong: '--n-iter needs a value: an integer' });
    // The next flag is never taken for a value.
    expect(wrong('--n-iter', '--steps', '20')).toEqual({ wrong: '--n-iter needs a value: an integer' });
    expect(wrong('--batch-size', 'two')).toEqual({ wrong: '--batch-size takes an integer, not "two"' });
    expect(wrong('--batch-size', '2.5')).toEqual({ wrong: '--batch-size takes an integer, not "2.5"' });
    expect(wrong('--cfg-scale', '')).toEqual({ wrong: '--cfg-scale takes a number, not ""' });
    expect(wrong('--enable-hr=maybe')).toEqual({ wrong: '--enable-hr takes true or false, not "maybe"' });
    expect(wrong('--adetailer', '{"model":"face_yolov8n.pt"}')).toEqual({
      wrong: '--adetailer takes a JSON list, not "{\\"model\\":\\"face_yolov8n.pt\\"}"',
    });
    expect(wrong('--batch-sise', '4')).toEqual({
      wrong: 'unknown flag --batch-sise; did you mean --batch-size?',
    });
    expect(toolArguments(['--status', 'runing'], LIST)).toEqual({
      wrong: '--status takes one of pending, running, completed, partial, failed, cancelled, not "runing"',
    });
    expect(toolArguments(['--limit', 'ten'], LIST)).toEqual({ wrong: '--limit takes an integer, not "ten"' });
  });
});
