import { unknownName } from '../core/params/unknown-name.ts';
import { GLOBAL_FLAGS } from './usage.ts';

/** A property of a tool's input schema, as the server lists it (JSON Schema, from its zod schema). */
export interface PropertySchema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: PropertySchema[];
  oneOf?: PropertySchema[];
}

export interface ToolArguments {
  positional: string[];
  named: Record<string, unknown>;
}

const SAYS: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  string: 'text',
  array: 'a JSON list',
  object: 'a JSON object',
};

/** The JSON types a property takes: `type`, each branch of a union, or those of its enum's values. */
function typesOf(schema: PropertySchema | undefined): Set<string> {
  if (!schema) return new Set();
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) return new Set(branches.flatMap((b) => [...typesOf(b)]));
  if (schema.type !== undefined) return new Set([schema.type].flat());
  if (schema.enum) return new Set(schema.enum.map((v) => (Array.isArray(v) ? 'array' : typeof v)));
  return new Set(['string', 'number', 'boolean', 'array', 'object']);
}

/** The value a flag's text stands for under its schema, or undefined when it stands for none. */
function readValue(text: string, types: Set<string>): { value: unknown } | undefined {
  const number = text.trim() === '' ? Number.NaN : Number(text);
  if (types.has('integer') && Number.isInteger(number)) return { value: number };
  if (types.has('number') && Number.isFinite(number)) return { value: number };
  if (types.has('boolean') && (text === 'true' || text === 'false')) return { value: text === 'true' };
  if (types.has('array') || types.has('object')) {
    try {
      const json: unknown = JSON.parse(text);
      const kind = Array.isArray(json) ? 'array' : json === null ? 'null' : typeof json;
      if (types.has(kind)) return { value: json };
    } catch {}
  }
  if (types.has('string')) return { value: text };
  return undefined;
}

/**
 * `--batch-size 4 --enable-hr --adetailer '[{"model":"face_yolov8n.pt"}]' "a cat"`: the tool's
 * arguments, each read as the type its input schema gives it, or why the command line cannot be
 * read ("--batch-size takes an integer, not "two""). A flag that only takes true or false needs no
 * value; any other flag takes the next word, which must not be a flag.
 */
export function toolArguments(
  args: string[],
  properties: Record<string, PropertySchema>,
): ToolArguments | { wrong: string } {
  const result: ToolArguments = { positional: [], named: {} };
  const flags = [...Object.keys(properties).map((n) => `--${n.replaceAll('_', '-')}`), ...GLOBAL_FLAGS];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) {
      result.positional.push(arg);
      continue;
    }
    const [typed, inline] = arg.split(/=(.*)/s, 2) as [string, string | undefined];
    const key = typed.slice(2).replaceAll('-', '_');
    if (!(key in properties)) return { wrong: unknownName('flag', typed, flags) };
    const types = typesOf(properties[key]);
    const expected = [...types].map((t) => SAYS[t] ?? t).join(' or ');
    let text = inline;
    const next = args[i + 1];
    const switchOnly = types.size === 1 && types.has('boolean');
    if (text === undefined && next !== undefined && !next.startsWith('--')) {
      if (!switchOnly || next === 'true' || next === 'false') text = args[++i];
    }
    if (text === undefined) {
      if (!types.has('boolean')) return { wrong: `${typed} needs a value: ${expected}` };
      result.named[key] = true;
      continue;
    }
    const read = readValue(text, types);
    if (!read) return { wrong: `${typed} takes ${expected}, not ${JSON.stringify(text)}` };
    const allowed = properties[key]?.enum;
    if (allowed && !allowed.includes(read.value)) {
      return { wrong: `${typed} takes one of ${allowed.join(', ')}, not ${JSON.stringify(text)}` };
    }
    result.named[key] = read.value;
  }
  return result;
}
