import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { type LoadedPreset, PresetCatalog, type PresetProblem } from '../core/presets/catalog.ts';
import { PresetFile } from '../core/presets/preset.ts';
import { presetSettings } from '../core/presets/preset-settings.ts';

/** sdreforge's loader rule: *.yaml / *.yml, no hidden files, no templates or placeholders. */
const isPresetFile = (name: string) =>
  /\.ya?ml$/i.test(name) && !name.startsWith('.') && !/template|placeholder/i.test(name);

/**
 * Loads every preset in `dir`. A broken file is reported by name and line and left out; the
 * others still load.
 */
export async function loadPresetCatalog(dir: string): Promise<PresetCatalog> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter(isPresetFile).sort();
  const presets: LoadedPreset[] = [];
  const problems: PresetProblem[] = [];
  for (const file of names) {
    const result = parsePreset(file, await readFile(join(dir, file), 'utf8'));
    if ('problem' in result) problems.push(result.problem);
    else if (presets.some((p) => p.name === result.preset.name)) {
      problems.push({ file, message: `duplicate preset name "${result.preset.name}"` });
    } else presets.push(result.preset);
  }
  return new PresetCatalog(presets, problems);
}

export function parsePreset(
  file: string,
  text: string,
): { preset: LoadedPreset } | { problem: PresetProblem } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax) return { problem: { file, line: lines.linePos(syntax.pos[0]).line, message: syntax.message } };
  const data = doc.toJS() as unknown;
  const lineOf = (path: PropertyKey[]): number | undefined => {
    let node: unknown = doc.contents;
    for (const key of path) {
      if (!isMap(node)) return undefined;
      const pair = node.items.find((item) => (item.key as { value?: unknown })?.value === key);
      if (!pair) return undefined;
      node = pair.value ?? pair.key;
    }
    const range = (node as { range?: [number] } | null)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
  try {
    const parsed = PresetFile.parse(data);
    return {
      preset: {
        name: parsed.name,
        description: parsed.description,
        source: file,
        settings: presetSettings(parsed),
      },
    };
  } catch (error) {
    if (!(error instanceof z.ZodError)) throw error;
    const issue = error.issues[0];
    const path = issue?.path ?? [];
    // Settings errors name the base_settings key they came from.
    const line = lineOf(path) ?? lineOf(['base_settings', ...path]) ?? lineOf(path.slice(0, 1));
    return {
      problem: { file, line, message: `${path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}` },
    };
  }
}
