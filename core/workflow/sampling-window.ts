import type { SdProgress } from '../ports.ts';

/** One /progress answer taken while our txt2img call was in flight, with when it was asked and answered. */
export interface ProgressPoll {
  sentAt: number;
  receivedAt: number;
  progress: SdProgress;
}

/** A request the polls saw hold the GPU: from when to when, as far as the polls can tell. */
interface Run {
  jobTimestamp: string;
  progress: number;
  /** Sent time of the last poll before it that showed something else (idle or another request). */
  before: number;
  /** Answer time of the first poll that showed it. */
  seen: number;
  /** Sent time of the last poll that showed it. */
  last: number;
  /** Answer time of the first poll after it that showed something else. */
  after?: number;
}

/**
 * Splits the polls into the requests they saw, in order. A new request shows as a new
 * job_timestamp, as progress going back (job_timestamp has one-second resolution, so two short
 * requests may share one), or as the GPU busy again after an idle poll.
 */
function requestsSeen(polls: readonly ProgressPoll[]): { firstIdle: boolean; runs: Run[] } {
  const runs: Run[] = [];
  let previous: ProgressPoll | undefined;
  for (const poll of polls) {
    const { jobTimestamp, progress } = poll.progress;
    const current = runs.at(-1);
    if (jobTimestamp === null) {
      if (current && current.after === undefined) current.after = poll.receivedAt;
    } else if (
      !current ||
      current.after !== undefined ||
      jobTimestamp !== current.jobTimestamp ||
      progress < current.progress
    ) {
      if (current && current.after === undefined) current.after = poll.receivedAt;
      runs.push({
        jobTimestamp,
        progress,
        before: previous?.sentAt ?? Number.NEGATIVE_INFINITY,
        seen: poll.receivedAt,
        last: poll.sentAt,
      });
    } else {
      current.progress = progress;
      current.last = poll.sentAt;
    }
    previous = poll;
  }
  return { firstIdle: polls[0]?.progress.jobTimestamp === null, runs };
}

/**
 * Seconds our request held the GPU: the call's wall time less the wait behind the request that
 * was running when it was sent, and less the encoding and transfer of our answer that overlapped
 * the next request's sampling. That is the GPU time one iteration costs the host, which is what
 * an estimate of the pool needs. Each boundary is placed halfway between the polls around it.
 *
 * The polls counted start with the last one answered before the call was sent (a call may poll
 * long before, while the runner's previous call to the host gets going). Ours is the first request
 * seen when the GPU was idle at that poll (the call went straight to it), else the second:
 * requests run in arrival order. Without polls that tell ours apart, the call's wall time (an
 * upper bound).
 */
export function samplingSeconds(
  polls: readonly ProgressPoll[],
  callSentAt: number,
  callEndedAt: number,
): number {
  const callSeconds = (callEndedAt - callSentAt) / 1000;
  const lastBefore = polls.findLastIndex((p) => p.receivedAt <= callSentAt);
  const answered = polls.slice(Math.max(0, lastBefore)).filter((p) => p.sentAt < callEndedAt);
  if (answered.length === 0) return callSeconds;
  const { firstIdle, runs } = requestsSeen(answered);
  const oursIndex = firstIdle ? 0 : 1;
  const ours = runs[oursIndex];
  if (!ours) return callSeconds;
  const start = oursIndex === 0 ? callSentAt : Math.max(callSentAt, (ours.before + ours.seen) / 2);
  const end = ours.after === undefined ? callEndedAt : Math.min(callEndedAt, (ours.last + ours.after) / 2);
  return end > start ? (end - start) / 1000 : callSeconds;
}
