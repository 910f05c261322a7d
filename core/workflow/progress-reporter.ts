import type { CurrentProgress } from '../job.ts';
import type { SdWebUi } from '../ports.ts';
import type { ProgressPoll } from './sampling-window.ts';

export interface ProgressReporterOptions {
  sd: SdWebUi;
  iteration: number;
  write: (current: CurrentProgress) => Promise<void>;
  now: () => Date;
  pollMs: number;
  /** At most one write per this many ms: status reads are cheap, writes are not. */
  writeEveryMs: number;
  /** Whether the job was cancelled; asked at most once per cancelCheckMs (writeEveryMs by default). */
  isCancelled?: () => Promise<boolean>;
  cancelCheckMs?: number;
  /** Sees every answered poll with its timing, e.g. to measure how long our request held the GPU. */
  observe?: (poll: ProgressPoll) => void;
}

export interface ProgressReporter {
  /**
   * Settles once the first poll has been answered (or failed, or taken too long). Our request
   * must be sent after it: a first poll that already saw our request would take it for the one
   * ahead, and the reporter would never know ours was running.
   */
  ready: Promise<void>;
  /** Stops polling; resolves to true when it interrupted SD WebUI because the job was cancelled. */
  stop: () => Promise<boolean>;
}

/**
 * How often live progress is written to the job item by default: a write costs a write unit per
 * KB of the item, and a step shown 5 s late is still live to a client polling every few seconds.
 */
export const PROGRESS_WRITE_MS = 5_000;

/** How often the job's status is read for a cancel while our call samples (a read is cheap). */
export const CANCEL_CHECK_MS = 2_000;

/** A host slow to answer /progress delays the call by at most this much. */
const FIRST_POLL_WAIT_MS = 500;

/**
 * Polls SD WebUI's /progress while our txt2img call waits and reports the step of *our* request.
 * /progress only shows the running request and has no id; ours is the first one whose
 * job_timestamp differs from the one running when we sent it (requests run in FIFO order).
 */
export function startProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const { sd, iteration, write, now, pollMs, writeEveryMs, isCancelled, observe } = options;
  const cancelCheckMs = options.cancelCheckMs ?? writeEveryMs;
  const controller = new AbortController();
  let stopped = false;
  let lastWrite = 0;
  let lastStep = -1;
  let lastCancelCheck = 0;
  let interrupted = false;
  let firstPolled: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    firstPolled = resolve;
    setTimeout(resolve, FIRST_POLL_WAIT_MS).unref?.();
  });

  const loop = (async () => {
    let before: string | null | undefined;
    while (!stopped) {
      try {
        const sentAt = Date.now();
        const p = await sd.progress(AbortSignal.any([controller.signal, AbortSignal.timeout(5_000)]));
        observe?.({ sentAt, receivedAt: Date.now(), progress: p });
        if (before === undefined) before = p.jobTimestamp;
        const ours = p.jobTimestamp !== null && p.jobTimestamp !== before;
        const due = Date.now() - lastWrite >= writeEveryMs;
        if (ours && due && p.step !== lastStep && !stopped) {
          lastWrite = Date.now();
          lastStep = p.step;
          await write({ iteration, step: p.step, steps: p.steps, updated_at: now().toISOString() });
        }
        // Interrupt only our own running request: /interrupt stops whatever holds the GPU.
        if (ours && isCancelled && !interrupted && Date.now() - lastCancelCheck >= cancelCheckMs) {
          lastCancelCheck = Date.now();
          if (await isCancelled()) {
            interrupted = true;
            await sd.interrupt();
          }
        }
      } catch {
        // Progress is decoration: a failed poll must never fail the generation.
      }
      firstPolled();
      await sleep(pollMs, controller.signal);
    }
  })();

  return {
    ready,
    stop: async () => {
      stopped = true;
      controller.abort();
      await loop;
      return interrupted;
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  // stop() may land during a poll: its abort has then already fired and must not be waited for.
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
