/**
 * The generate task's memory row of `npm run bench`, and `npm run bench:memory`, which measures
 * only it (about a minute): the largest answer one SD WebUI call may bring (LIMITS.pixelsPerCall:
 * 8 images at 2048x2048; a photographic PNG of that size is 5-8 MB, so 7 MiB of incompressible
 * bytes each) read by a fresh process bundled and started as the function is.
 */
import { FUNCTION_SIZING } from '../workflow/function-sizing.ts';
import { type Row, textTable, verdict } from './report.ts';
import { decodePeak } from './scenarios.ts';

/** A function needs room over its measured peak: at least 1.5x it, so the peak is at most 2/3 of the memory. */
export const PEAK_SHARE_TARGET = 1 / 1.5;

export const measureGenerateMemory = () =>
  decodePeak(7 * 2 ** 20, 8, FUNCTION_SIZING['Generate images'].memoryMb);

export type GenerateMemory = Awaited<ReturnType<typeof measureGenerateMemory>>;

export function generateMemoryRow(decode: GenerateMemory): Row {
  // Lambda's "MB" of memory are MiB (128 MB = 134,217,728 bytes), as RSS is counted here.
  const share = decode.store.peak / decode.memoryMb;
  return {
    metric: `generate task's peak RSS (bundled as deployed, worst of ${decode.store.peaks.length}) for the largest answer (8 x 2048x2048, ${decode.bodyMiB.toFixed(0)} MiB of JSON), each image stored as it is decoded / the function's memory`,
    value: `${share.toFixed(2)} (${decode.store.peak.toFixed(0)} MiB of ${decode.memoryMb} MB; ${decode.store.loaded.toFixed(0)} MiB before the call; all images held: ${decode.hold.peak.toFixed(0)} MiB, read whole: ${decode.whole.peak.toFixed(0)} MiB)`,
    target: `<= ${PEAK_SHARE_TARGET.toFixed(2)} (memory >= 1.5x the peak)`,
    pass: share <= PEAK_SHARE_TARGET,
  };
}

if (import.meta.main) {
  const decode = await measureGenerateMemory();
  const row = generateMemoryRow(decode);
  console.log(
    textTable(['metric', 'value', 'target', ''], [[row.metric, row.value, row.target, verdict(row)]]),
  );
  console.log(
    `peaks (MiB): stored on the way ${decode.store.peaks.map((p) => p.toFixed(0)).join(', ')}; held ${decode.hold.peaks.map((p) => p.toFixed(0)).join(', ')}; read whole ${decode.whole.peaks.map((p) => p.toFixed(0)).join(', ')}`,
  );
}
