/**
 * BENCHMARKS.md's "Scale" section is written by `npm run bench:scale` and the rest by `npm run
 * bench`: each keeps the other's part.
 */

const HEADING = '\n## Scale\n';

/** The file with its Scale section (from its heading to the end) replaced, or added at the end. */
export function replaceScaleSection(file: string, section: string): string {
  return `${withoutScaleSection(file).trimEnd()}\n\n${section.trimEnd()}\n`;
}

export function withoutScaleSection(file: string): string {
  const at = file.indexOf(HEADING);
  return at < 0 ? file : file.slice(0, at + 1);
}

/** The Scale section of the file as it stands, '' if none. */
export function scaleSection(file: string): string {
  const at = file.indexOf(HEADING);
  return at < 0 ? '' : file.slice(at + 1);
}
