import { describe, expect, it } from 'vitest';
import { digitLabel } from '../../../core/contact-sheet/digits.ts';
import { cellOrigin, SHEET_LIMITS, sheetLayout } from '../../../core/contact-sheet/layout.ts';

describe('contact sheet layout', () => {
  it.each([1, 4, 12, 100, 800])(
    'fits %i images inside the bound with every cell inside the sheet',
    (count) => {
      for (const aspect of [1, 2 / 3, 3 / 2]) {
        const layout = sheetLayout(count, aspect);
        expect(layout.width).toBeLessThanOrEqual(SHEET_LIMITS.maxSide);
        expect(layout.height).toBeLessThanOrEqual(SHEET_LIMITS.maxSide);
        expect(layout.columns * layout.rows).toBeGreaterThanOrEqual(count);
        const last = cellOrigin(layout, count - 1);
        expect(last.left + layout.thumbWidth).toBeLessThanOrEqual(layout.width);
        expect(last.top + layout.thumbHeight + SHEET_LIMITS.labelHeight).toBeLessThanOrEqual(layout.height);
      }
    },
  );

  it('keeps the images as large as the bound allows: 4 square images make a 2x2 grid', () => {
    expect(sheetLayout(4, 1)).toMatchObject({ columns: 2, rows: 2 });
    expect(sheetLayout(3, 3)).toMatchObject({ columns: 1, rows: 3 });
  });
});

describe('digit labels', () => {
  it('draw each seed differently and leave no pixel for a blank', () => {
    const a = digitLabel('12345', 60, 14);
    const b = digitLabel('12346', 60, 14);
    expect(a).toHaveLength(60 * 14 * 3);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(a.some((v) => v === 235)).toBe(true);
    expect(digitLabel('', 60, 14).every((v) => v === 34)).toBe(true);
  });
});
