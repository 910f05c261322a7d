/** "2m 15s", "1h 03m", "45s": how people read a duration in a progress line. */
export function formatDuration(totalSeconds: number): string {
  // Work under half a second still reads as time to wait, not "0s".
  const s = totalSeconds > 0 ? Math.max(1, Math.round(totalSeconds)) : 0;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}
