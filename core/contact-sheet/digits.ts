/**
 * A 3x5 bitmap of each digit: seeds are digits only, so labels need no font (Lambda has none).
 * Each string is five rows of three pixels, "#" on.
 */
const GLYPHS: Record<string, string> = {
  '0': '###,#.#,#.#,#.#,###',
  '1': '.#.,##.,.#.,.#.,###',
  '2': '###,..#,###,#..,###',
  '3': '###,..#,###,..#,###',
  '4': '#.#,#.#,###,..#,..#',
  '5': '###,#..,###,..#,###',
  '6': '###,#..,###,#.#,###',
  '7': '###,..#,..#,..#,..#',
  '8': '###,#.#,###,#.#,###',
  '9': '###,#.#,###,..#,###',
};

/**
 * Draws `text` (digits) into an RGB label strip `width` x `height`, white on dark grey, centred,
 * at the largest integer scale that fits.
 */
export function digitLabel(text: string, width: number, height: number): Uint8Array {
  const pixels = new Uint8Array(width * height * 3).fill(34);
  const digits = [...text].filter((c) => GLYPHS[c]);
  if (digits.length === 0) return pixels;
  const scale = Math.max(1, Math.min(Math.floor((height - 2) / 5), Math.floor(width / (digits.length * 4))));
  const textWidth = digits.length * 4 * scale - scale;
  const x0 = Math.max(0, Math.floor((width - textWidth) / 2));
  const y0 = Math.max(0, Math.floor((height - 5 * scale) / 2));
  digits.forEach((digit, d) => {
    const rows = (GLYPHS[digit] as string).split(',');
    rows.forEach((row, y) => {
      [...row].forEach((on, x) => {
        if (on !== '#') return;
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const px = x0 + (d * 4 + x) * scale + dx;
            const py = y0 + y * scale + dy;
            if (px < width && py < height) pixels.fill(235, (py * width + px) * 3, (py * width + px) * 3 + 3);
          }
        }
      });
    });
  });
  return pixels;
}
