import { systemClock } from '../clock.ts';
import { SdWebUiUnavailableError } from '../errors.ts';
import type { JobRecord } from '../job.ts';
import type { Lease } from '../pool/host-pool.ts';
import type { ImageSink, SdWebUi, Txt2ImgResult } from '../ports.ts';
import type { CallPart } from '../request-limit.ts';
import { buildTxt2ImgPayload } from '../txt2img-payload.ts';
import type { GenerateDeps, RunnerCalls } from './generate-iteration.ts';
import { HangWatch } from './hang-watch.ts';
import type { prepareHostContext } from './host-context.ts';
import { CANCEL_CHECK_MS, type ReporterOutcome, startProgressReporter } from './progress-reporter.ts';
import type { HostCall } from './request-order.ts';
import type { KnownPaces } from './sampling-pace.ts';
import { type ProgressPoll, samplingSeconds } from './sampling-window.ts';

/** One SD WebUI call of an iteration: which images, on which leased host, after which call. */
export interface HostCallInput {
  job: JobRecord;
  iteration: number;
  /** The images of the iteration's batch this call makes (all of them unless it was split). */
  part: CallPart;
  prepared: Awaited<ReturnType<typeof prepareHostContext>>;
  sd: SdWebUi;
  lease: Lease;
  /** Aborts when the iteration's time is up. */
  deadline: AbortSignal;
  deps: GenerateDeps;
  shared: RunnerCalls;
  /** This call, as the runner's next call to the host follows it. */
  call: HostCall;
  /** The runner's call to this host just before this one, if any. */
  previous?: HostCall;
  /**
   * Sent only once `previous` has ended and the host is seen idle, rather than queued behind
   * `previous`: a host with a request time limit where two calls would not fit.
   */
  alone: boolean;
  /** Takes each image of this call as it arrives, by its index in the iteration's batch. */
  sink?: ImageSink;
}

/** What one call made, and the GPU seconds it held the host for (from the /progress polls). */
export interface HostCallResult {
  result: Txt2ImgResult;
  busySeconds: number;
}

/** The rates the runner's calls measured on this host, kept for its next calls there. */
function knownPaces(shared: RunnerCalls, hostId: string): KnownPaces {
  const known = shared.paces.get(hostId) ?? new Map<number, number>();
  shared.paces.set(hostId, known);
  return known;
}

/** Room kept between clearing a lost request and the end of the lease. */
const LEASE_MARGIN_MS = 5_000;

/**
 * The SD WebUI call with live progress; undefined when it was interrupted by a cancel. A call
 * interrupted or skipped by someone else (at the WebUI) answers 200 with partly sampled images:
 * they are not kept, and the iteration is tried again. A call a tunnel gave up on (see
 * SdWebUiUnavailableError.mayStillRun) may still run on the host: it is interrupted there, and the
 * error is thrown only once the host is idle (or the lease nearly over), so neither the retry nor
 * the runner's next call is sent into a GPU still busy with it.
 */
export async function callOnHost(input: HostCallInput): Promise<HostCallResult | undefined> {
  const { job, iteration, part, prepared, sd, lease, deadline, deps, shared, call, previous } = input;
  const clock = deps.clock ?? systemClock;
  const polls: ProgressPoll[] = [];
  // The deadline bounds the work; the watch ends sooner a call the host is not working on.
  const watch = new HangWatch(deps.hangMs);
  const reporter = startProgressReporter({
    sd,
    iteration,
    write: (current) => deps.jobs.setCurrent(job.job_id, current),
    now: deps.now,
    clock,
    pollMs: deps.progressPollMs,
    writeEveryMs: deps.progressWriteMs,
    cancelCheckMs: Math.min(deps.progressWriteMs, deps.cancelCheckMs ?? CANCEL_CHECK_MS),
    isCancelled: async () => (await deps.jobs.get(job.job_id))?.status === 'cancelled',
    cancel: shared.cancel,
    paces: knownPaces(shared, lease.hostId),
    call,
    observe: (poll) => polls.push(poll),
    watch,
  });
  let result: Txt2ImgResult;
  let outcome: ReporterOutcome;
  let sentAt = 0;
  let endedAt = 0;
  try {
    const payload = buildTxt2ImgPayload(prepared.params, iteration, prepared.host, part);
    await reporter.ready;
    if (input.alone) {
      if (previous) await Promise.race([previous.ended, aborted(deadline)]);
      await reporter.idle(deadline);
    } else if (previous) {
      previous.follow();
      await Promise.race([previous.placed, aborted(deadline)]);
    }
    // Cancelled meanwhile: nothing of ours is on the GPU yet, and nothing is sent.
    if ((previous || input.alone) && shared.cancel.cancelled) return undefined;
    sentAt = clock.now();
    watch.sent(sentAt);
    reporter.sent(previous);
    // This call's images are the batch's from part.first on; what follows them (extras such as
    // ControlNet maps) is not a result.
    const sink = input.sink;
    const partSink: ImageSink | undefined =
      sink &&
      ((image, position) => (position < part.count ? sink(image, part.first + position) : Promise.resolve()));
    result = await sd.txt2img(
      payload,
      AbortSignal.any([deadline, watch.signal]),
      () => watch.answering(),
      partSink,
    );
    endedAt = clock.now();
    call.end(result.jobTimestamp);
  } catch (caught) {
    if (caught instanceof SdWebUiUnavailableError && caught.mayStillRun) {
      const leaseLeft = lease.until - deps.now().getTime() - LEASE_MARGIN_MS;
      await reporter.abandon(AbortSignal.timeout(Math.max(0, leaseLeft)));
    }
    const error = watch.verdict
      ? new SdWebUiUnavailableError(`GPU host ${lease.hostId} ${watch.verdict}`, { cause: caught })
      : caught;
    throw await hostFailed(error, job, lease, deps);
  } finally {
    call.end();
    outcome = await reporter.stop();
  }
  await deps.pool.reportHealth(lease, true);
  // Cancelled mid-sampling: SD WebUI returns half-denoised images, which are not results.
  if (outcome.interruptedByUs) return undefined;
  if (await interruptedElsewhere(sd, outcome, result.jobTimestamp)) {
    if (shared.cancel.cancelled) return undefined;
    const error = new SdWebUiUnavailableError(
      `the call was interrupted on GPU host ${lease.hostId}, not by sdbatch; its partly sampled images were not kept`,
    );
    error.hostId = lease.hostId;
    throw error;
  }
  return { result, busySeconds: samplingSeconds(polls, sentAt, endedAt) };
}

/**
 * A call's error, with its host named when the host could not do the work (the runner retries
 * elsewhere if it can), and that failure counted in the host's health.
 */
export async function hostFailed(error: unknown, job: JobRecord, lease: Lease, deps: GenerateDeps) {
  if (!(error instanceof SdWebUiUnavailableError)) return error;
  error.hostId ??= lease.hostId;
  if (await deps.pool.reportHealth(lease, false, error.message)) {
    await deps.jobs.addNote(
      job.job_id,
      `${deps.now().toISOString()}: GPU host ${lease.hostId} failed several calls in a row and rests for a while; its slots go to the other hosts.`,
    );
  }
  return error;
}

const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

/**
 * Whether our request was interrupted or skipped: a poll of it said so, or SD WebUI, idle since,
 * still describes it that way (the flags last until the next request begins).
 */
async function interruptedElsewhere(
  sd: SdWebUi,
  outcome: ReporterOutcome,
  ours: string | undefined,
): Promise<boolean> {
  if (outcome.sawInterrupted) return true;
  if (!ours) return false;
  try {
    const after = await sd.progress(AbortSignal.timeout(5_000));
    return after.jobTimestamp === null && after.lastJobTimestamp === ours && after.interrupted;
  } catch {
    return false;
  }
}
