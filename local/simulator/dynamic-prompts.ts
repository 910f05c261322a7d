/**
 * The part of the Dynamic Prompts extension that changes seeds and prompts, in its random mode.
 * It is installed and enabled by default, so `{a|b}` expands even when the request does not
 * mention it. args (by position): [0] enabled (true), [10] use_fixed_seed (false),
 * [11] unlink_seed_from_prompt (false). Combinatorial mode and wildcards are not simulated.
 */

export interface DynamicPrompts {
  enabled: boolean;
  useFixedSeed: boolean;
  unlinkSeed: boolean;
}

export function dynamicPromptsArgs(alwayson: Record<string, unknown>): DynamicPrompts {
  const key = Object.keys(alwayson).find((k) => k.toLowerCase().startsWith('dynamic prompts'));
  const entry = key === undefined ? undefined : alwayson[key];
  const args = typeof entry === 'object' && entry !== null && 'args' in entry ? entry.args : undefined;
  const arg = (i: number) => (Array.isArray(args) ? args[i] : undefined);
  return { enabled: arg(0) !== false, useFixedSeed: arg(10) === true, unlinkSeed: arg(11) === true };
}

const GROUP = /\{([^{}]*)\}/;

/** Picks one option of every `{a|b|c}` group (innermost first) from the image's seed. */
export function expandPrompt(template: string, seed: number, unlinkSeed: boolean): string {
  let out = template;
  let state = (seed >>> 0) ^ 0x9e3779b9;
  for (let match = GROUP.exec(out); match !== null; match = GROUP.exec(out)) {
    const options = (match[1] ?? '').split('|');
    state = Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) >>> 0;
    const pick = unlinkSeed ? Math.floor(Math.random() * options.length) : state % options.length;
    out = out.slice(0, match.index) + (options[pick] ?? '') + out.slice(match.index + match[0].length);
  }
  return out;
}
