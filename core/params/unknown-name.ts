import { distance } from 'fastest-levenshtein';

/**
 * "unknown argument batch_sise; did you mean batch_size?": the nearest known name is offered
 * only when it is close enough to be a slip of the keyboard, or the name cut short.
 */
export function unknownName(kind: string, name: string, known: readonly string[]): string {
  // A name cut short (`sampler` for `sampler_name`) is as likely a slip as a misspelling.
  const longer = name.length >= 4 ? known.find((k) => k.startsWith(name)) : undefined;
  const near = longer ?? nearest(name, known);
  const typo =
    near !== undefined &&
    (near === longer || distance(name, near) <= Math.max(2, Math.floor(name.length / 4)));
  return `unknown ${kind} ${name}${typo ? `; did you mean ${near}?` : ''}`;
}

/** The fewest edits away; of equals, the one of the nearest length (`stauts`: status, not start). */
function nearest(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; edits: number; lengthGap: number } | undefined;
  for (const candidate of known) {
    const edits = distance(name, candidate);
    const lengthGap = Math.abs(candidate.length - name.length);
    if (!best || edits < best.edits || (edits === best.edits && lengthGap < best.lengthGap)) {
      best = { name: candidate, edits, lengthGap };
    }
  }
  return best?.name;
}

/** The `count` known names fewest edits from `name` (case aside), nearest first; ties by name. */
export function closestNames(name: string, known: readonly string[], count: number): string[] {
  const w = name.toLowerCase();
  return [...new Set(known)]
    .map((k) => ({ k, edits: distance(w, k.toLowerCase()) }))
    .sort((a, b) => a.edits - b.edits || a.k.localeCompare(b.k))
    .slice(0, count)
    .map(({ k }) => k);
}
