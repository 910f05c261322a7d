import type { PresetSettings } from '../params/generation.ts';

export interface LoadedPreset {
  name: string;
  description?: string;
  /** The file it came from, for messages. */
  source: string;
  settings: PresetSettings;
}

export interface PresetProblem {
  file: string;
  line?: number;
  message: string;
}

/** The presets a gateway serves; the one named `defaultName` applies when a call names none. */
export class PresetCatalog {
  readonly defaultName: string;
  readonly problems: PresetProblem[];
  private readonly byName: Map<string, LoadedPreset>;

  constructor(presets: LoadedPreset[], problems: PresetProblem[] = [], defaultName = 'txt2img_default') {
    this.byName = new Map(presets.map((p) => [p.name, p]));
    this.problems = problems;
    this.defaultName = defaultName;
  }

  get(name: string | undefined): LoadedPreset | undefined {
    const wanted = name ?? this.defaultName;
    return (
      this.byName.get(wanted) ??
      (name === undefined ? { name: wanted, source: 'built-in', settings: {} } : undefined)
    );
  }

  list(): LoadedPreset[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
