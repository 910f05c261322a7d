import type { Clock } from '../clock.ts';
import {
  JobNotFoundError,
  NoSlotAvailableError,
  SdWebUiRejectedError,
  SdWebUiUnavailableError,
} from '../errors.ts';
import {
  type Calibration,
  callSeconds,
  DEFAULT_CALIBRATION,
  type RateSample,
  rateSample,
} from '../estimate.ts';
import type { HostNameCatalog } from '../host-names.ts';
import { identifyImage } from '../image-format/identify.ts';
import { imageKey } from '../image-key.ts';
import { expiryFrom, type GenerationParams, isTerminal, type JobRecord, type StoredImage } from '../job.ts';
import type { Lease, SlotRef } from '../pool/host-pool.ts';
import type { JobClaim } from '../pool/waiters.ts';
import type {
  FinishedLease,
  HostPool,
  ImageFetcher,
  ImageSink,
  ImageStore,
  JobStore,
  PoolAsk,
  SdWebUi,
  Txt2ImgResult,
} from '../ports.ts';
import { callShape, splitCalls, splittable } from '../request-limit.ts';
import { callOnHost, hostFailed } from './host-call.ts';
import { prepareHostContext } from './host-context.ts';
import type { LeaseBook } from './lease-book.ts';
import type { CancelWatch } from './progress-reporter.ts';
import { HostCall } from './request-order.ts';
import type { KnownPaces } from './sampling-pace.ts';

export interface GenerateDeps {
  jobs: JobStore;
  images: ImageStore;
  pool: HostPool;
  /** The SD WebUI client of each pool host, by host id. */
  hosts: ReadonlyMap<string, SdWebUi>;
  fetcher: ImageFetcher;
  /** Where the hosts' lists of names are left for the gateway; absent = not kept. */
  catalog?: HostNameCatalog;
  now: () => Date;
  /** Timers and elapsed time of the calls and the runner; the system clock by default. */
  clock?: Clock;
  progressPollMs: number;
  progressWriteMs: number;
  /** How often a sampling call looks for a cancel of its job; CANCEL_CHECK_MS unless shortened. */
  cancelCheckMs?: number;
  /** Upper bound of one SD WebUI call for these parameters; below the task's own time-out. */
  callTimeoutMs: (params: GenerationParams) => number;
  /** What a host not measured yet is assumed to take: how much of its request limit a call fills. */
  calibration?: Calibration;
  /** The hosts with a request time limit (a tunnel's), by host id, with their depth; others have none. */
  requestLimits?: ReadonlyMap<string, RequestLimit>;
  /** How long a host may show no sign of working on a call before it counts as hung (HANG_MS). */
  hangMs?: number;
}

/** A host's request time limit, its wait in SD WebUI's queue included, and the calls it may hold. */
export interface RequestLimit {
  seconds: number;
  depth: number;
}

/** One iteration of a job to make. */
export interface IterationInput {
  job_id: string;
  iteration: number;
}

/** What became of an iteration. */
export interface IterationOutcome {
  iteration: number;
  images: number;
  skipped: boolean;
  /** Set when the job had already ended (cancelled, most often): its runner stops there. */
  job_ended?: boolean;
  /** Set when another worker holds a live lease for this very iteration: it is being made. */
  running_elsewhere?: boolean;
}

/** A runner's finished leases, and the one this call hands over (taken from the book at launch). */
export interface RunnerLeases {
  book: LeaseBook;
  handOver?: FinishedLease;
}

/**
 * One iteration = one txt2img call of batch_size images on a leased GPU slot. Safe to run again:
 * an iteration already recorded is skipped, keys are a function of (job, iteration, index), and
 * counting is idempotent. Without a free slot it throws NoSlotAvailableError: the runner finishes
 * what it has in flight and waits in the state machine, not in a billed Lambda.
 *
 * With the runner's leases, the slot is asked for by handing `handOver` over (it goes back to the
 * book if no slot was asked for), and this call's lease goes to the book instead of being
 * released: the runner's next call takes it over in one write.
 */
export async function generateIteration(
  input: IterationInput,
  deps: GenerateDeps,
  asker: Asker,
  leases?: RunnerLeases,
): Promise<IterationOutcome> {
  const putBack = () => {
    if (leases?.handOver) leases.book.put(leases.handOver);
  };
  let slot: SlotAsk | IterationOutcome;
  try {
    slot = await slotAsk(input, deps, asker);
  } catch (error) {
    putBack();
    throw error;
  }
  if (!('ask' in slot)) {
    putBack();
    return slot;
  }
  // From here the hand-over lease is the pool's: its first answer hands it over or releases it.
  const assigned = leases?.handOver || slot.ask.avoidHosts ? undefined : asker.assigned?.();
  const ask = assigned ? { ...slot.ask, assigned } : slot.ask;
  const acquire = () => acquireSlot(ask, slot.timeoutMs + 60_000, deps, leases?.handOver);
  // A runner's asks for a free slot go one at a time: its second sees the lease its first wrote,
  // instead of racing it for the same slot (a failed conditional write). A hand-over races nobody.
  const lease = asker.shared && !leases?.handOver ? await inTurn(asker.shared, acquire) : await acquire();
  const { iteration } = input;
  if ('wait' in lease) {
    if (lease.running) return { iteration, images: 0, skipped: true, running_elsewhere: true };
    throw new NoSlotAvailableError(lease.wait, lease);
  }
  // The runner's calls to a host go out in the order they got their slots (see generateOnHost):
  // that order is taken now, as the lease is granted, not once the job has been read under it.
  const order = asker.shared ? hostOrder(asker.shared, lease.hostId) : undefined;
  // The host's measured speed rides on the release, a write made anyway: nothing added between calls.
  let measured: RateSample | undefined;
  try {
    return await generateUnderLease(
      input,
      lease,
      slot.timeoutMs,
      deps,
      asker,
      (m) => {
        measured = m;
      },
      order,
    );
  } finally {
    // A call that never went out (the job ended, the iteration was counted) holds no one back.
    order?.first.end();
    if (leases) leases.book.put({ lease, measured });
    else await deps.pool.release(lease, measured);
  }
}

/** Who asks the pool for the slot: the runner, with its job's claim and a host to keep away from. */
export interface Asker {
  runner: number;
  claim: (job: JobRecord) => JobClaim;
  /** Hosts that failed this iteration: it waits for another while one is healthy. */
  avoidHosts?: string[];
  /** The iteration is another runner's, taken at the job's end. */
  stolen?: boolean;
  /** The next slot the job's admission named for this runner, while it may take one (see SlotAsk). */
  assigned?: () => SlotRef | undefined;
  /**
   * The job as the runner last read it, shared by its calls: what the claim and the call's deadline
   * come from before the lease, refreshed by each call's read under its lease.
   */
  latest?: { job?: JobRecord };
  /** What the runner's calls share: its last call to each host, and whether the job was cancelled. */
  shared?: RunnerCalls;
}

export interface RunnerCalls {
  lastCall: Map<string, HostCall>;
  /** Its last ask for a free slot, which the next waits for (see inTurn). */
  asking: Promise<unknown>;
  /** The sampling rates its calls measured, by host (see SamplingFit). */
  paces: Map<string, KnownPaces>;
  cancel: CancelWatch;
  /** Notes its calls added to the job: its two calls in flight read the job before either added one. */
  noted: Set<string>;
}

export const runnerCalls = (): RunnerCalls => ({
  lastCall: new Map(),
  asking: Promise.resolve(),
  paces: new Map(),
  cancel: { cancelled: false },
  noted: new Set(),
});

/** The pool ask for an iteration still to make, with its call's time-out. */
interface SlotAsk {
  ask: PoolAsk;
  timeoutMs: number;
}

/** The pool ask for an iteration still to make, or why none is needed. */
async function slotAsk(
  input: IterationInput,
  deps: GenerateDeps,
  asker: Asker,
): Promise<SlotAsk | IterationOutcome> {
  const { job_id: jobId, iteration } = input;
  const known = asker.latest?.job ?? (await read(jobId, deps));
  if (isTerminal(known.status)) return { iteration, images: 0, skipped: true, job_ended: true };
  if (known.counted?.has(iteration)) return countedAlready(jobId, iteration, deps);
  // The lease outlives the call's deadline a little, so it is never lost while the call is alive.
  const ask = {
    claim: asker.claim(known),
    holder: `${jobId}#${iteration}`,
    runner: asker.runner,
    ...(asker.avoidHosts?.length ? { avoidHosts: asker.avoidHosts } : {}),
  };
  return { ask, timeoutMs: deps.callTimeoutMs(known.params) };
}

async function generateUnderLease(
  input: IterationInput,
  lease: Lease,
  timeoutMs: number,
  deps: GenerateDeps,
  asker: Asker,
  measure: (measured: RateSample | undefined) => void,
  order?: HostOrder,
): Promise<IterationOutcome> {
  const { job_id: jobId, iteration } = input;
  // Read under the lease: another worker that made this iteration counted it before it let the
  // lease go, so what it finished is seen here (read before the lease, it could be missed).
  let job = asker.stolen ? undefined : await read(jobId, deps);
  if (!job || job.stealing) {
    // Runners take each other's iterations now, and two asks for one iteration that read the
    // pool at the same moment can both win a slot. Each looks for the other's lease, then reads
    // the job: of two racing asks at most one goes on (at worst neither, and the owner asks
    // again), and a holder that let go meanwhile had counted first.
    if (await deps.pool.heldElsewhere(lease)) {
      return { iteration, images: 0, skipped: true, running_elsewhere: true };
    }
    job = await read(jobId, deps);
  }
  if (asker.latest) asker.latest.job = job;
  if (isTerminal(job.status)) return { iteration, images: 0, skipped: true, job_ended: true };
  // The job's set of counted iterations says which are finished: no read of the iteration on the
  // way to the GPU. One stored but not yet counted (a crash between the two writes) is made
  // again, to the same keys, and counted then.
  if (job.counted?.has(iteration)) return countedAlready(jobId, iteration, deps);
  const sd = deps.hosts.get(lease.hostId);
  if (!sd) throw new Error(`GPU host ${lease.hostId} is not configured on this worker`);
  const storer = imageStorer(job, iteration, lease.hostId, deps);
  const outcome = await generateOnHost(
    job,
    iteration,
    sd,
    lease,
    timeoutMs,
    deps,
    storer.take,
    asker.shared,
    measure,
    order,
  );
  if (!outcome) return { iteration, images: 0, skipped: true };
  measure(outcome.measured);
  const stored = await recordImages(job, iteration, outcome.result, storer, deps);
  return { iteration, images: stored, skipped: false };
}

async function read(jobId: string, deps: GenerateDeps): Promise<JobRecord> {
  const job = await deps.jobs.get(jobId);
  if (!job) throw new JobNotFoundError(jobId);
  return job;
}

async function countedAlready(
  jobId: string,
  iteration: number,
  deps: GenerateDeps,
): Promise<IterationOutcome> {
  const done = await deps.jobs.getIteration(jobId, iteration);
  return { iteration, images: done?.images.length ?? 0, skipped: true };
}

/**
 * A slot, or why not. A job that ended while it waited (cancelled, most often: a stopped
 * execution asks no more) would stay first in the queue until its place went stale; the job it
 * holds back checks and clears that place, then asks again at once.
 */
async function acquireSlot(ask: PoolAsk, leaseMs: number, deps: GenerateDeps, done?: FinishedLease) {
  // Bounded: each round clears one ended job; a queue of them clears over the next retries.
  for (let round = 0; ; round++) {
    // A finished lease is handed over or released by the first ask, whatever its answer.
    const answer = await deps.pool.acquire(ask, leaseMs, round === 0 ? done : undefined);
    if (!('wait' in answer) || !answer.ahead || round === MAX_ENDED_WAITERS) return answer;
    const ahead = await deps.jobs.get(answer.ahead);
    if (ahead && !isTerminal(ahead.status)) return answer;
    await deps.pool.dropWaiters(answer.ahead);
  }
}

const MAX_ENDED_WAITERS = 3;

/** A call's place among the runner's calls to one host: itself, and the call sent there before it. */
interface HostOrder {
  first: HostCall;
  previous: HostCall | undefined;
}

/** Takes the next place among the runner's calls to the host. */
function hostOrder(shared: RunnerCalls, hostId: string): HostOrder {
  const first = new HostCall();
  const previous = shared.lastCall.get(hostId);
  shared.lastCall.set(hostId, first);
  return { first, previous };
}

/** Runs `work` once the runner's previous ask has settled, and makes it the one the next waits for. */
function inTurn<T>(shared: RunnerCalls, work: () => Promise<T>): Promise<T> {
  const turn = shared.asking.then(work, work);
  shared.asking = turn.catch(() => undefined);
  return turn;
}

/**
 * The iteration's images from its leased host, and how long they held the GPU per unit of work
 * (from the /progress polls); undefined when a cancel interrupted them. One SD WebUI call, or
 * several with the same seeds when the host's request limit leaves no room for one (see
 * core/request-limit.ts).
 */
async function generateOnHost(
  job: JobRecord,
  iteration: number,
  sd: SdWebUi,
  lease: Lease,
  timeoutMs: number,
  deps: GenerateDeps,
  sink: ImageSink,
  shared: RunnerCalls = runnerCalls(),
  measure: (measured: RateSample | undefined) => void = () => {},
  order: HostOrder = hostOrder(shared, lease.hostId),
): Promise<{ result: Txt2ImgResult; measured?: RateSample } | undefined> {
  // SD WebUI takes requests sent within a few ms of each other in either order (5 of 12 pairs
  // against the kit's A1111 1.8). The runner's calls to a host go out in the order they got their
  // slot on it, each once the one before is seen running there: the host's queue then has them in
  // the order the reporters assume, and the job's iterations sample in order.
  const { first, previous } = order;
  let prepared: Awaited<ReturnType<typeof prepareHostContext>>;
  try {
    prepared = await prepareHostContext(job, { ...deps, sd, hostId: lease.hostId });
    if (prepared.note && !job.notes?.includes(prepared.note))
      await deps.jobs.addNote(job.job_id, prepared.note);
  } catch (error) {
    first.end();
    // A host that cannot even list its samplers fails like one that cannot generate.
    throw await hostFailed(error, job, lease, deps);
  }
  const limit = deps.requestLimits?.get(lease.hostId);
  const calibration = deps.calibration ?? DEFAULT_CALIBRATION;
  const shape = callShape({
    limitSeconds: limit?.seconds,
    depth: limit?.depth ?? 1,
    batchSize: job.params.batch_size,
    splittable: splittable(job.params),
    secondsFor: (batch) => callSeconds({ ...prepared.params, batch_size: batch }, calibration, lease.rates),
  });
  const parts = splitCalls(job.params.batch_size, shape.batchPerCall);
  if (limit && parts.length > 1) {
    const note = splitNote(lease.hostId, limit.seconds, job.params.batch_size, shape.batchPerCall);
    if (!job.notes?.includes(note) && !shared.noted.has(note)) {
      shared.noted.add(note);
      await deps.jobs.addNote(job.job_id, note);
    }
  }
  const deadline = AbortSignal.timeout(timeoutMs);
  // The calls of a split iteration follow each other on the host; the runner's next call follows
  // the last of them, as `first` stands for them all in the runner's order until they are done.
  const split = parts.length > 1;
  const made: Txt2ImgResult[] = [];
  let busySeconds = 0;
  let before = previous;
  try {
    for (const part of parts) {
      const call = split ? new HostCall() : first;
      // Behind a request limit a call queues only behind the runner's own call still out there, and
      // only while two fit: a request ahead of it of unknown size could push it past the limit.
      const alone = limit !== undefined && !(shape.depth > 1 && before !== undefined && !before.done);
      let one: Awaited<ReturnType<typeof callOnHost>>;
      try {
        one = await callOnHost({
          job,
          iteration,
          part,
          prepared,
          sd,
          lease,
          deadline,
          deps,
          shared,
          call,
          previous: before,
          alone,
          sink,
        });
      } catch (error) {
        // The tunnel cut it at its limit: its request lasted at least that long. Taken as its GPU time
        // (too much if it waited in the queue: the safe side), the next try is planned smaller.
        if (limit && error instanceof SdWebUiUnavailableError && error.mayStillRun) {
          measure(rateSample({ ...job.params, batch_size: part.count }, limit.seconds));
        }
        throw error;
      }
      if (!one) return undefined;
      made.push(one.result);
      busySeconds += one.busySeconds;
      before = call;
    }
  } finally {
    first.end();
  }
  return { result: joinResults(made), measured: rateSample(job.params, busySeconds) };
}

/** What a split iteration's calls made, as the one call they stand for would have answered. */
function joinResults(results: Txt2ImgResult[]): Txt2ImgResult {
  const last = results.at(-1);
  const grid = results.find((r) => r.firstImage)?.firstImage;
  return {
    images: results.flatMap((r) => r.images),
    ...(grid ? { firstImage: grid } : {}),
    seeds: results.flatMap((r) => r.seeds),
    subseeds: results.flatMap((r) => r.subseeds),
    infotexts: results.flatMap((r) => r.infotexts),
    ...(last?.jobTimestamp ? { jobTimestamp: last.jobTimestamp } : {}),
  };
}

/** The job's note when its batches are split: why, and how close the images are to one call's. */
export const splitNote = (hostId: string, limitSeconds: number, batch: number, perCall: number) =>
  `GPU host ${hostId} ends a request after ${limitSeconds} s (its request limit), which one call of ${batch} images would not fit: each batch was made in calls of at most ${perCall} with the same seeds. Its images match a single call's to within 1 level in a few pixels (float summation order), not bit for bit.`;

/**
 * Stores each image of a call as SD WebUI's answer brings it (the answer lists the images before
 * their info), so a call's images are never all held at once: a generate function's memory is
 * billed while it waits for the GPU, and 8 PNGs at 2048x2048 are ~56 MiB. Each is identified
 * before it is stored (its format decides its key and type): one that is no PNG, JPEG or WebP
 * fails the iteration (UnsupportedImageError) and nothing is recorded; the images stored before
 * it stay unrecorded, as do those of a call that ends badly, and expire with the job (a retry
 * writes the same keys). What the record needs of each image is kept; images after the batch's
 * (extras such as ControlNet maps) are not results.
 */
function imageStorer(job: JobRecord, iteration: number, hostId: string, deps: GenerateDeps) {
  const { params } = job;
  const kept = new Map<number, Pick<StoredImage, 'key' | 'width' | 'height' | 'infotext'>>();
  let expiresAt: number | undefined;
  // A retention from now: a job running past its first expiry keeps what it makes.
  const expiry = () => {
    expiresAt ??= expiryFrom(job, deps.now().getTime());
    return expiresAt;
  };
  /** What an image is, before anything of it is stored: UnsupportedImageError if it is none of ours. */
  const identify = (body: Uint8Array, index: number) => {
    const kind = identifyImage(body, `image ${index} of GPU host ${hostId}'s answer`);
    const key = imageKey(job.job_id, iteration, index, kind.format);
    return { index, body, key, kind };
  };
  const store = async ({ index, body, key, kind }: ReturnType<typeof identify>) => {
    // Hires fix and upscalers change the size: record what SD WebUI actually made, and what the
    // stored file says of itself.
    kept.set(index, { key, width: kind.width, height: kind.height, infotext: kind.infotext });
    await deps.images.put({ key, body, contentType: kind.contentType, expiresAt: expiry() });
  };
  const take: ImageSink = async (body, index) => {
    if (index < params.batch_size) await store(identify(body, index));
  };
  /** Images a client held rather than handing them on: all identified before any is stored. */
  const takeHeld = async (images: Uint8Array[]) => {
    const identified = images.slice(0, params.batch_size).map(identify);
    await Promise.all(identified.map(store));
  };
  return { take, takeHeld, kept, expiry };
}

type ImageStorer = ReturnType<typeof imageStorer>;

/** The iteration's record, once its images are stored: keys, seeds, sizes and infotexts. */
async function recordImages(
  job: JobRecord,
  iteration: number,
  result: Txt2ImgResult,
  storer: ImageStorer,
  deps: GenerateDeps,
) {
  const { params } = job;
  if ((result.firstImage ?? 0) !== 0) {
    // Stored by their place in the answer: a grid first would have shifted every key by one.
    throw new SdWebUiRejectedError(
      `SD WebUI answered with a grid before the images (index_of_first_image ${result.firstImage}) although the request had save_images false; this host's answers cannot be stored`,
    );
  }
  await storer.takeHeld(result.images);
  const count = Math.min(result.seeds.length, params.batch_size);
  const stored: StoredImage[] = Array.from({ length: count }, (_, index) => {
    const image = storer.kept.get(index);
    if (!image) throw new Error(`image ${index} of iteration ${iteration} was never stored`);
    return {
      ...image,
      index,
      seed: result.seeds[index] ?? params.seed + iteration * params.batch_size + index,
      subseed: result.subseeds[index],
      // What the stored file says of itself, else what the answer's info says.
      infotext: image.infotext ?? result.infotexts[index],
    };
  });
  const expiresAt = storer.expiry();
  await deps.jobs.recordIteration(
    {
      job_id: job.job_id,
      iteration,
      status: 'succeeded',
      image_count: stored.length,
      images: stored,
      finished_at: deps.now().toISOString(),
    },
    expiresAt,
  );
  return stored.length;
}
