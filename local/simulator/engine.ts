import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The GPU side of the simulator: one FIFO lock (A1111's `queue_lock`) and the `shared.state`
 * that `/progress`, `/interrupt` and `/skip` see while a job samples.
 */

export interface ProgressState {
  skipped: boolean;
  interrupted: boolean;
  stopping_generation: boolean;
  job: string;
  job_count: number;
  job_timestamp: string;
  job_no: number;
  sampling_step: number;
  sampling_steps: number;
}

export interface ProgressResponse {
  progress: number;
  eta_relative: number;
  state: ProgressState;
  current_image: string | null;
  textinfo: string | null;
}

export interface SamplingJob {
  nIter: number;
  /** Steps of each pass of a batch: [steps] or [steps, hiresSteps]. */
  passes: number[];
  /** Wall time of one sampling step of the whole batch. */
  stepMs: number;
  /**
   * Wall time between the job's start and its first step: the real server first shows job_count -1
   * (`state.begin`), then n_iter while it prepares the batch, and `sampling_steps` still holds the
   * previous job's value until its sampler starts. A quarter of it is spent at job_count -1.
   */
  setupMs: number;
  /** Wall time of decoding a batch after its last step; `sampling_step` stays at the last index. */
  decodeMs: number;
  /** Base64 live preview of batch n (asked for lazily by `/progress`). */
  preview?: (batch: number) => string;
}

export interface SamplingResult {
  /**
   * Batches that produced images, with the index of the last pass that ran for each and whether
   * every pass ran all its steps (an interrupt or skip leaves the images partly sampled).
   */
  batches: Array<{ batch: number; pass: number; complete: boolean }>;
  jobTimestamp: string;
  start: number;
  end: number;
  /** Sampling steps run, all passes and batches together (fewer than planned after an interrupt). */
  steps: number;
}

export class ClosedError extends Error {
  constructor() {
    super('simulator closed');
    this.name = 'ClosedError';
  }
}

/** Local time as YYYYMMDDhhmmss. */
export function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

const PREVIEW_EVERY = 10; // the default of option show_progress_every_n_steps

export class Engine {
  #tail: Promise<unknown> = Promise.resolve();
  #closing = new AbortController();
  #state: ProgressState = {
    skipped: false,
    interrupted: false,
    stopping_generation: false,
    job: '',
    job_count: 0,
    job_timestamp: '0',
    job_no: 0,
    sampling_step: 0,
    sampling_steps: 0,
  };
  #timeStart = 0;
  #job: SamplingJob | undefined;
  #batch = 0;
  #preview: string | null = null;
  #previewStep = 0;
  #stepsRun = 0;

  /** Runs fn when every earlier caller is done (FIFO); rejects with ClosedError once closed. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => {
      if (this.#closing.signal.aborted) throw new ClosedError();
      return fn();
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /**
   * `state.begin`: a new job shows at once, with job_count -1, a new job_timestamp and cleared
   * flags; sampling_steps keeps the previous job's value. Call inside `exclusive`, then `end`.
   */
  begin(job: string): void {
    Object.assign(this.#state, {
      skipped: false,
      interrupted: false,
      stopping_generation: false,
      job,
      job_count: -1,
      job_timestamp: timestamp(),
      job_no: 0,
      sampling_step: 0,
    });
    this.#timeStart = performance.now();
    this.#preview = null;
    this.#previewStep = 0;
  }

  /** `state.end`: idle again; the state keeps describing the last job (timestamp, steps, flags, job_no). */
  end(): void {
    this.#state.job = '';
    this.#state.job_count = 0;
    this.#job = undefined;
  }

  /** Samples a begun job step by step. Interrupt keeps the current batch, skip ends it. */
  async sample(job: SamplingJob): Promise<SamplingResult> {
    const s = this.#state;
    const start = this.#timeStart;
    this.#job = job;
    const batches: SamplingResult['batches'] = [];
    this.#stepsRun = 0;
    await this.#wait(job.setupMs / 4);
    s.job_count = job.nIter * job.passes.length; // n_iter, ×2 with a hires pass
    await this.#wait(job.setupMs - job.setupMs / 4);
    for (let n = 0; n < job.nIter; n++) {
      s.skipped = false;
      if (s.interrupted) break;
      if (job.nIter > 1) s.job = `Batch ${n + 1} out of ${job.nIter}`;
      this.#batch = n;
      let pass = 0;
      let complete = true;
      for (const [i, steps] of job.passes.entries()) {
        if (i > 0) {
          if (s.interrupted) {
            complete = false;
            break; // sample_hr_pass returns the first-pass result
          }
          this.#nextJob();
        }
        pass = i;
        complete = (await this.#samplePass(steps, job.stepMs)) && complete;
      }
      await this.#wait(job.decodeMs);
      batches.push({ batch: n, pass, complete });
      this.#nextJob();
    }
    return { batches, jobTimestamp: s.job_timestamp, start, end: performance.now(), steps: this.#stepsRun };
  }

  #wait(ms: number): Promise<void> {
    return sleep(Math.max(0, ms), undefined, { signal: this.#closing.signal });
  }

  /** Runs one pass; false when an interrupt or skip stopped it before its last step. */
  async #samplePass(steps: number, stepMs: number): Promise<boolean> {
    const s = this.#state;
    s.sampling_steps = steps;
    s.sampling_step = 0;
    const begin = performance.now();
    for (let k = 1; k <= steps; k++) {
      if (s.interrupted || s.skipped) return false; // checked before each denoiser call
      await this.#wait(begin + k * stepMs - performance.now());
      s.sampling_step = k - 1; // k-diffusion's callback reports the 0-based index of the finished step
      this.#stepsRun++;
    }
    return true;
  }

  #nextJob(): void {
    this.#state.job_no++;
    this.#state.sampling_step = 0;
    this.#previewStep = 0;
  }

  progress(skipCurrentImage: boolean): ProgressResponse {
    const s = { ...this.#state };
    if (s.job_count === 0)
      return { progress: 0, eta_relative: 0, state: s, current_image: null, textinfo: null };
    let progress = 0.01; // job_count is -1 while the job sets up
    if (s.job_count > 0) progress += s.job_no / s.job_count;
    if (s.sampling_steps > 0) progress += s.sampling_step / s.sampling_steps / s.job_count;
    const elapsed = (performance.now() - this.#timeStart) / 1000;
    const etaRelative = elapsed / progress - elapsed;
    if (skipCurrentImage) {
      return {
        progress: Math.min(1, progress),
        eta_relative: etaRelative,
        state: s,
        current_image: null,
        textinfo: null,
      };
    }
    if (s.sampling_step - this.#previewStep >= PREVIEW_EVERY && this.#job?.preview) {
      this.#preview = this.#job.preview(this.#batch);
      this.#previewStep = s.sampling_step;
    }
    return {
      progress: Math.min(1, progress),
      eta_relative: etaRelative,
      state: s,
      current_image: this.#preview,
      textinfo: null,
    };
  }

  /** Sets the flag even while idle, as A1111 does; the next job's start clears it, so it has no effect then. */
  interrupt(): void {
    this.#state.interrupted = true;
  }

  skip(): void {
    this.#state.skipped = true;
  }

  get busy(): boolean {
    return this.#job !== undefined;
  }

  /** Aborts the running job and fails every queued one with ClosedError. */
  close(): void {
    this.#closing.abort(new ClosedError());
  }
}
