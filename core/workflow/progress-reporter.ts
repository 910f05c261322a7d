import { type Clock, systemClock } from '../clock.ts';
import type { CurrentProgress } from '../job.ts';
import type { SdProgress, SdWebUi } from '../ports.ts';
import type { HangWatch } from './hang-watch.ts';
import { HostCall, RequestOrder } from './request-order.ts';
import { drifted, type KnownPaces, SamplingFit, type SamplingPace } from './sampling-pace.ts';
import type { ProgressPoll } from './sampling-window.ts';

/** What one runner's calls share about their job: a cancel one of them saw is news to all. */
export interface CancelWatch {
  cancelled: boolean;
}

export interface ProgressReporterOptions {
  sd: SdWebUi;
  iteration: number;
  write: (current: CurrentProgress) => Promise<void>;
  now: () => Date;
  /** Timing of polls, writes and cancel checks; the system clock by default. */
  clock?: Clock;
  pollMs: number;
  /**
   * At most one write per this many ms: status reads are cheap, writes are not. A call writes its
   * pace once measured, and again only when the polls see it off (see drifted); a pace assumed
   * from the runner's last call (see SamplingFit) is put right at once if it is off.
   */
  writeEveryMs: number;
  /** The rates the runner's calls to this host measured (see SamplingFit); a fresh map when alone. */
  paces?: KnownPaces;
  /** Whether the job was cancelled; asked at most once per cancelCheckMs (writeEveryMs by default). */
  isCancelled?: () => Promise<boolean>;
  cancelCheckMs?: number;
  /** Shared by the runner's calls; a fresh one when the call runs alone. */
  cancel?: CancelWatch;
  /** This call, filled in as the polls see its request. */
  call?: HostCall;
  /** Sees every answered poll with its timing, e.g. to measure how long our request held the GPU. */
  observe?: (poll: ProgressPoll) => void;
  /** Told of every poll, answered or failed, to find a call the host is not working on. */
  watch?: HangWatch;
}

export interface ReporterOutcome {
  /** The reporter interrupted our request because the job was cancelled. */
  interruptedByUs: boolean;
  /** SD WebUI's job_timestamp of the request the polls took for ours, if they saw it. */
  ours?: string;
  /** A poll of our request showed it interrupted or skipped (by anyone). */
  sawInterrupted: boolean;
}

export interface ProgressReporter {
  /**
   * Settles once the first poll has been answered (or failed). Our request must be sent after it:
   * a first poll that already saw our request would take it for the one ahead, and the reporter
   * would never know ours was running.
   */
  ready: Promise<void>;
  /**
   * Says our request goes out now (call it in the same tick as the send), after `previous`: the
   * runner's call sent to the same host just before and placed already (see HostCall), which SD
   * WebUI runs first. Until then no request is taken for ours.
   */
  sent: (previous?: HostCall) => void;
  /** Settles true once a poll shows the host idle (nothing sampling), or false when `signal` aborts first. */
  idle: (signal: AbortSignal) => Promise<boolean>;
  /**
   * Our request's answer is lost (a tunnel gave up waiting for it) but SD WebUI may still run it:
   * it is interrupted once the polls show it running; settles as `idle` does.
   */
  abandon: (signal: AbortSignal) => Promise<boolean>;
  stop: () => Promise<ReporterOutcome>;
}

/**
 * How often live progress may be written to the job item at most, by default: a write costs a
 * write unit per KB of the item. Status works the step out from the written pace, so a call
 * sampling at a steady rate is written once.
 */
export const PROGRESS_WRITE_MS = 5_000;

/** How often the job's status is read for a cancel while our call samples (a read is cheap). */
export const CANCEL_CHECK_MS = 1_000;

/**
 * Poll pace while our request waits in SD WebUI's queue and something waits on it: the job is
 * cancelled (it is interrupted as soon as it samples), or the runner's next call is held until
 * ours is seen running.
 */
const BRISK_POLL_MS = 50;

/** A /progress answer slower than this counts as a failed poll. */
const POLL_TIMEOUT_MS = 5_000;

/**
 * Polls SD WebUI's /progress while our txt2img call waits and reports the step of *our* request,
 * which RequestOrder picks out of the answers. The reporter locks onto its timestamp: a later
 * request is somebody else's, never shown or interrupted as ours.
 *
 * A cancelled job's request is interrupted as soon as it samples, including one that waited in
 * SD WebUI's queue behind it: closing our HTTP call would not take it out of that queue.
 */
export function startProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const { sd, iteration, write, now, pollMs, writeEveryMs, isCancelled, observe, watch } = options;
  const clock = options.clock ?? systemClock;
  const cancelCheckMs = options.cancelCheckMs ?? writeEveryMs;
  const cancel = options.cancel ?? { cancelled: false };
  let sent = false;
  const order = new RequestOrder();
  const call = options.call ?? new HostCall();
  const controller = new AbortController();
  let stopped = false;
  let lastWrite = Number.NEGATIVE_INFINITY;
  const fit = new SamplingFit(options.paces);
  let written: (SamplingPace & { steps: number }) | undefined;
  let lastCancelCheck = Number.NEGATIVE_INFINITY;
  let interruptedByUs = false;
  let sawInterrupted = false;
  let ours: string | undefined;
  /** Set while someone waits for the host to be idle (see idle): told by the next idle poll. */
  let idleWaiter: ((idle: boolean) => void) | undefined;
  /** Our request's answer is lost (see abandon): it is interrupted when seen running. */
  let abandoned = false;
  let interruptedAbandoned = false;
  let firstPolled: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    firstPolled = resolve;
  });
  // A next call starting to wait on ours cuts the current pause short: ours is looked for briskly.
  let wake = new AbortController();
  call.whenFollowed(() => wake.abort());

  /**
   * Writes when sampling began and its rate once two polls have measured it, and again when a poll
   * sees the step drift from them: status works the step out when it is read. (Writing the step
   * itself at most every writeEveryMs showed the step of a call's first poll, mostly 0, for the
   * whole call.) `at` is when the poll looked, by our clock: the host's may differ.
   */
  const show = async (p: SdProgress, at: number) => {
    // Step 0 may still be the previous request's count (until the sampler's first step), and the
    // last step's index holds while the images decode: neither tells the pace.
    if (p.step <= 0 || p.step >= p.steps - 1 || stopped) return;
    const seen = { at, step: p.step, steps: p.steps };
    fit.see(seen);
    const pace = fit.pace();
    // An assumed pace (the last call's) is put right by the first measurement at once.
    const throttled = clock.now() - lastWrite < writeEveryMs && !written?.assumed;
    if (!pace || (written && !drifted(written, seen)) || throttled) return;
    lastWrite = clock.now();
    written = { ...pace, steps: p.steps };
    // A host that changed pace (a second pass, a slower GPU) is measured afresh from here.
    fit.restart();
    await write({
      iteration,
      step: p.step,
      steps: p.steps,
      updated_at: new Date(at).toISOString(),
      sampling_since: new Date(pace.since).toISOString(),
      steps_per_second: pace.stepsPerSecond,
    });
  };

  const interruptIfCancelled = async () => {
    if (interruptedByUs || !isCancelled) return;
    if (!cancel.cancelled && clock.now() - lastCancelCheck >= cancelCheckMs) {
      lastCancelCheck = clock.now();
      if (await isCancelled()) cancel.cancelled = true;
    }
    if (cancel.cancelled && !stopped) {
      interruptedByUs = true;
      // /interrupt stops whatever holds the GPU: only ever sent while the polls show ours.
      await sd.interrupt();
    }
  };

  const loop = (async () => {
    while (!stopped) {
      try {
        const sentAt = clock.now();
        const p = await sd.progress(
          AbortSignal.any([controller.signal, AbortSignal.timeout(POLL_TIMEOUT_MS)]),
        );
        const receivedAt = clock.now();
        // The moment the poll looked, halfway through it, on the clock status reads with.
        const at = now().getTime() - (receivedAt - sentAt) / 2;
        observe?.({ sentAt, receivedAt, progress: p });
        watch?.polled(clock.now(), p);
        if (!sent) order.before(p);
        else if (ours === undefined) {
          const mine = order.after(p);
          if (mine) {
            ours = mine.ts;
            call.seen(ours);
          }
        }
        if (order.running(p)) {
          if (p.interrupted) sawInterrupted = true;
          await show(p, at);
          await interruptIfCancelled();
          if (abandoned && !interruptedAbandoned) {
            interruptedAbandoned = true;
            // Nobody will read its images: the GPU goes to the next call at once.
            await sd.interrupt();
          }
        } else if (ours !== undefined && p.lastJobTimestamp === ours && p.interrupted) {
          sawInterrupted = true;
        }
        if (p.jobTimestamp === null) idleWaiter?.(true);
      } catch {
        // Progress is decoration: a failed poll fails the generation only as the watch rules.
        watch?.polled(clock.now(), undefined);
      }
      firstPolled();
      const brisk = sent && ours === undefined && (cancel.cancelled || call.followed);
      await clock.sleep(
        brisk ? Math.min(pollMs, BRISK_POLL_MS) : pollMs,
        AbortSignal.any([controller.signal, wake.signal]),
      );
      if (wake.signal.aborted) wake = new AbortController();
    }
  })();

  const idle = (signal: AbortSignal) =>
    new Promise<boolean>((resolve) => {
      if (stopped || signal.aborted) return resolve(false);
      const settle = (answer: boolean) => {
        idleWaiter = undefined;
        signal.removeEventListener('abort', onAbort);
        resolve(answer);
      };
      const onAbort = () => settle(false);
      idleWaiter = settle;
      signal.addEventListener('abort', onAbort, { once: true });
      // Someone waits on the next poll: it is asked now, not after the pause.
      wake.abort();
    });

  return {
    ready,
    sent: (previous) => {
      sent = true;
      order.sent(previous);
    },
    idle,
    abandon: (signal) => {
      abandoned = true;
      return idle(signal);
    },
    stop: async () => {
      idleWaiter?.(false);
      stopped = true;
      controller.abort();
      await loop;
      return { interruptedByUs, sawInterrupted, ...(ours === undefined ? {} : { ours }) };
    },
  };
}
