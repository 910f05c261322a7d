import { InvalidRequestError } from '../core/errors.ts';

/** An opaque cursor over a job's ordered files: the offset, bound to the job it pages. */
export const encodeOffsetCursor = (jobId: string, offset: number): string =>
  Buffer.from(JSON.stringify({ j: jobId, o: offset })).toString('base64url');

export function decodeOffsetCursor(jobId: string, cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  try {
    const { j, o } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      j?: unknown;
      o?: unknown;
    };
    if (j === jobId && Number.isInteger(o) && (o as number) >= 0) return o as number;
  } catch {
    // Falls through to the error below.
  }
  throw new InvalidRequestError(
    'cursor: not a cursor this tool handed out for this job; omit it for the first page',
  );
}
