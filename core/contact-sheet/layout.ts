/** Bounds that keep a contact sheet something a model can look at in one image content item. */
export const SHEET_LIMITS = {
  /** Longest side; vision models downscale anything larger anyway. */
  maxSide: 1568,
  /** Height of the seed label under each thumbnail. */
  labelHeight: 14,
  gap: 4,
} as const;

export interface SheetLayout {
  columns: number;
  rows: number;
  /** Thumbnail box (the image is fitted inside, keeping its aspect ratio). */
  thumbWidth: number;
  thumbHeight: number;
  width: number;
  height: number;
}

/**
 * The grid for `count` images of aspect `aspect` (width / height): as close to square as the
 * images allow, every thumbnail as large as the longest-side bound permits.
 */
export function sheetLayout(
  count: number,
  aspect: number,
  maxSide: number = SHEET_LIMITS.maxSide,
): SheetLayout {
  const n = Math.max(1, count);
  const { labelHeight, gap } = SHEET_LIMITS;
  let best: SheetLayout | undefined;
  for (let columns = 1; columns <= n; columns++) {
    const rows = Math.ceil(n / columns);
    // The largest thumbnail width that fits both bounds.
    const byWidth = (maxSide - gap * (columns + 1)) / columns;
    const byHeight = ((maxSide - gap * (rows + 1)) / rows - labelHeight) * aspect;
    const thumbWidth = Math.floor(Math.min(byWidth, byHeight));
    if (thumbWidth < 8) continue;
    const thumbHeight = Math.max(1, Math.floor(thumbWidth / aspect));
    const layout = {
      columns,
      rows,
      thumbWidth,
      thumbHeight,
      width: gap + columns * (thumbWidth + gap),
      height: gap + rows * (thumbHeight + labelHeight + gap),
    };
    if (!best || layout.thumbWidth > best.thumbWidth) best = layout;
  }
  if (!best) throw new Error(`${count} images do not fit a ${maxSide} px contact sheet`);
  return best;
}

/** Top-left corner of cell `i`, row by row. */
export function cellOrigin(layout: SheetLayout, i: number): { left: number; top: number } {
  const { gap, labelHeight } = SHEET_LIMITS;
  const column = i % layout.columns;
  const row = Math.floor(i / layout.columns);
  return {
    left: gap + column * (layout.thumbWidth + gap),
    top: gap + row * (layout.thumbHeight + labelHeight + gap),
  };
}
