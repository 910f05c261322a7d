import { z } from 'zod';
import { ListInput, StartToolInput } from '../mcp-gateway/tools/inputs.ts';
import type { PropertySchema } from './tool-flags.ts';

/** The commands whose flags are their tool's arguments, and that tool's input schema. */
const TOOL_INPUTS = { start: StartToolInput, list: ListInput } as const;

export type ToolCommand = keyof typeof TOOL_INPUTS;

export const isToolCommand = (command: string): command is ToolCommand => command in TOOL_INPUTS;

/**
 * The tool's arguments as JSON Schema, from the zod schema the gateway registers (the CLI ships
 * with it): a command line is read and checked before anything connects, gateway or none.
 */
export function toolProperties(command: ToolCommand): Record<string, PropertySchema> {
  const schema = z.toJSONSchema(TOOL_INPUTS[command], { io: 'input' }) as {
    properties: Record<string, PropertySchema>;
  };
  return schema.properties;
}
