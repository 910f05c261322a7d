/**
 * JSON shapes: each value is flattened to `path → set of JSON types`, arrays as `path[*]` (the
 * union over their elements). Two answers have the same shape when every path of the actual one
 * exists in the expected one with types it has there, and every key the expected one has at an
 * object the actual one also has. Paths listed as maps have free keys (`path.*`); paths listed as
 * open objects may lack keys of the expected one (a subset of settings, say); paths listed as
 * JSON strings are parsed first.
 */

export interface ShapeRules {
  /** Objects whose keys are data, e.g. `[*].options` of /samplers. */
  maps?: string[];
  /** Objects of which the actual one may hold fewer keys, e.g. the root of GET /options. */
  open?: string[];
  /** Strings that hold JSON, e.g. txt2img's `info`. */
  jsonStrings?: string[];
}

type Flat = Map<string, Set<string>>;

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function flatten(value: unknown, rules: ShapeRules, path = '', out: Flat = new Map()): Flat {
  let v = value;
  if (typeof v === 'string' && rules.jsonStrings?.includes(path)) v = JSON.parse(v);
  const types = out.get(path) ?? new Set<string>();
  types.add(typeOf(v));
  out.set(path, types);
  if (Array.isArray(v)) {
    for (const item of v) flatten(item, rules, `${path}[*]`, out);
  } else if (typeof v === 'object' && v !== null) {
    const isMap = rules.maps?.includes(path);
    for (const [k, item] of Object.entries(v))
      flatten(item, rules, path ? `${path}.${isMap ? '*' : k}` : k, out);
  }
  return out;
}

const parentOf = (path: string): string => {
  const cut = Math.max(path.lastIndexOf('.'), path.endsWith('[*]') ? path.length - 3 : -1);
  return cut < 0 ? '' : path.slice(0, cut);
};

/** The differences of `actual` from `expected`'s shape, one line each; [] when they have the same shape. */
export function shapeDiff(expected: unknown, actual: unknown, rules: ShapeRules = {}): string[] {
  const want = flatten(expected, rules);
  const got = flatten(actual, rules);
  const problems: string[] = [];
  for (const [path, types] of got) {
    const allowed = want.get(path);
    if (!allowed) {
      problems.push(`${path || '(root)'}: not in the fixture`);
      continue;
    }
    const extra = [...types].filter((t) => !allowed.has(t));
    if (extra.length > 0) {
      problems.push(`${path || '(root)'}: ${extra.join('|')}, the fixture has ${[...allowed].join('|')}`);
    }
  }
  for (const path of want.keys()) {
    if (got.has(path) || path.endsWith('[*]') || path.endsWith('.*') || path === '') continue;
    const parent = parentOf(path);
    // Only a key missing from an object the actual answer has is a difference (not one below an
    // empty array or a null, nor one of an open object).
    if (got.get(parent)?.has('object') && !rules.open?.includes(parent)) problems.push(`${path}: missing`);
  }
  return problems;
}
