import { z } from 'zod';
import type { HostRate, RateSample } from './estimate.ts';
import type { ContactSheet, CurrentProgress, IterationRecord, JobRecord, JobStatus } from './job.ts';
import type { HostSpec, Lease, SlotAsk, SlotRefusal } from './pool/host-pool.ts';
import type { PoolOutage } from './pool/outage.ts';
import type { JobClaim } from './pool/waiters.ts';

/**
 * A job's record, changed only by conditional writes: a write to a job that does not exist, or
 * not in the status a move expects, changes nothing. The rules (which moves, what they stamp, the
 * note cap) are the core's (job-status.ts, job.ts); a store only applies them.
 */
export interface JobRecords {
  /** Stores a new job; false when a job with this id already exists (nothing is written). */
  create(job: JobRecord): Promise<boolean>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /**
   * Moves `from` → `to` as planTransition says (stamps, expiry, leaving the owner's admitted
   * jobs on an end); false when the job was not in one of `from`.
   */
  transition(jobId: string, from: JobStatus[], to: JobStatus, at: string): Promise<boolean>;
  /** Live progress, kept only while the job is in PROGRESS_STATUS. */
  setCurrent(jobId: string, current: CurrentProgress): Promise<void>;
  setContactSheet(jobId: string, sheet: ContactSheet): Promise<void>;
  /** Adds a line for the job's owner to read in status (the last NOTES_KEPT are kept). */
  addNote(jobId: string, note: string): Promise<void>;
  /**
   * Counts one more failed call of an iteration, and the host that failed it; returns how many
   * failed calls it has had in all. In the same write the job keeps the pool's outage as seen
   * after this failure (what status says it waits for), or drops the one it had when there is none.
   */
  recordAttempt(jobId: string, iteration: number, hostId?: string, outage?: PoolOutage): Promise<number>;
  /** Says that runners take each other's iterations now (the job's end): see generateIteration. */
  markStealing(jobId: string): Promise<void>;
}

/** Each iteration's outcome, stored idempotently and counted into its job once. */
export interface IterationLedger {
  getIteration(jobId: string, iteration: number): Promise<IterationRecord | undefined>;
  /**
   * Stores the iteration unless a final one is stored (mayReplaceIteration), and adds the stored
   * one's images to the job's counters exactly once, however often it is called.
   */
  recordIteration(record: IterationRecord, expiresAt: number): Promise<void>;
  listIterations(jobId: string): Promise<IterationRecord[]>;
}

/** An owner's jobs: the listing, the active count, admission against the limit, client tokens. */
export interface OwnerIndex {
  /** The owner's jobs, newest first, one page at a time. */
  listByOwner(owner: string, query: JobListQuery): Promise<JobPage>;
  /** Jobs of the owner not yet ended (isActive). */
  countActive(owner: string): Promise<number>;
  /**
   * Admits a job among its owner's active ones if fewer than `limit` are, by one conditional count,
   * however many starts arrive at once; when full, stale entries (isStaleAdmission) are cleared
   * first. A transition to an ended status takes the job out again. `at` is epoch ms.
   */
  admit(owner: string, jobId: string, limit: number, at: number): Promise<Admission>;
  /** Takes back the admission of a job that will not be created. */
  withdraw(owner: string, jobId: string): Promise<void>;
  /**
   * Binds (owner, token) to a job id the first time; later calls get the first binding back,
   * so a retried start cannot create a second job.
   */
  claimClientToken(claim: ClientTokenClaim): Promise<ClientTokenClaim>;
}

/**
 * The three job ports together, as the composition roots wire them: DynamoDB keeps them in one
 * table (adapters/dynamodb-job-store.ts), tests in memory (test/support).
 */
export type JobStore = JobRecords & IterationLedger & OwnerIndex;

/**
 * What the embedded stack does for itself that DynamoDB's TTL and Step Functions' durability do
 * in AWS (local/maintenance.ts).
 */
export interface JobHousekeeping {
  /** Every job not yet ended, of every owner. */
  activeJobs(): Promise<JobRecord[]>;
  /** The jobs whose expiry has passed at `nowSeconds`. */
  expiredJobs(nowSeconds: number): Promise<string[]>;
  /** Deletes the job with all its items; how many items went. */
  deleteJob(jobId: string): Promise<number>;
  /**
   * Deletes every other item expired at `nowSeconds`, but not an iteration of a job still kept
   * (it goes with its job); how many went.
   */
  deleteExpiredItems(nowSeconds: number): Promise<number>;
}

export type Admission = { admitted: true } | { admitted: false; active: number };

export interface JobListQuery {
  status?: JobStatus;
  limit: number;
  /** Opaque, from a previous page's nextCursor. */
  cursor?: string;
}

export interface JobPage {
  jobs: JobRecord[];
  nextCursor?: string;
}

export interface ClientTokenClaim {
  owner: string;
  token: string;
  jobId: string;
  /** A digest of the arguments, so the same token with other arguments is refused. */
  fingerprint: string;
  expiresAt: number;
}

export interface PresignedUrl {
  url: string;
  expiresAt: Date;
}

export interface PutImage {
  key: string;
  body: Uint8Array;
  contentType: string;
  expiresAt: number;
}

/** Images (PNG, JPEG, WebP) and presigned downloads. One implementation: S3 (s3rver locally). */
export interface ImageStore {
  put(image: PutImage): Promise<void>;
  get(key: string): Promise<Uint8Array>;
  /** Whether an object has this exact key (a HEAD: nothing downloaded). */
  exists(key: string): Promise<boolean>;
  /**
   * A GET-only URL for one object. Valid for `expiresInSeconds` at most, and never past the
   * signing credentials' own expiry (a URL signed with a role's temporary keys dies with them).
   */
  presignGet(key: string, expiresInSeconds: number): Promise<PresignedUrl>;
}

/**
 * What clean-up needs of the image bucket besides the ImageStore: the embedded stack's sweeps (in
 * AWS a lifecycle rule expires the objects).
 */
export interface ImageHousekeeping {
  /** Deletes every object whose key starts with `prefix`; how many went. */
  deletePrefix(prefix: string): Promise<number>;
  /** Each name right after `prefix` in the keys under it (a job id), with its newest object's epoch seconds. */
  newestUnder(prefix: string): Promise<Map<string, number>>;
}

/** Starts and stops the workflow of a job. Step Functions in AWS, aws-local-stepfunctions locally. */
export interface Orchestrator {
  start(jobId: string, input: WorkflowInput): Promise<void>;
  stop(jobId: string, cause: string): Promise<void>;
}

/** What a job's execution starts with: identifiers only, never images or prompts (workflowInput). */
export interface WorkflowInput {
  job_id: string;
  /** Generate tasks at once, each doing every runners-th iteration (runnerCount). */
  runners: number;
  /** 0 .. runners-1: the Map state's items, one per generate task. */
  runner_ids: number[];
}

export interface Txt2ImgResult {
  /** The images' bytes, in order; empty when each went to the caller's ImageSink as it arrived. */
  images: Uint8Array[];
  /**
   * Where the real images begin among those the answer carried: 1 after a grid (which a request
   * with save_images false never gets), 0 or absent otherwise.
   */
  firstImage?: number;
  /** One per real image: how many the call made. */
  seeds: number[];
  subseeds: number[];
  infotexts: string[];
  /** SD WebUI's job_timestamp of this request, as /progress showed it while it ran. */
  jobTimestamp?: string;
}

export interface SdProgress {
  /** 0..1 of the request that holds the GPU now; 0 when idle. */
  progress: number;
  step: number;
  steps: number;
  /** SD WebUI's job_timestamp of the running request ("YYYYMMDDhhmmss"), null when idle. */
  jobTimestamp: string | null;
  /**
   * Whether the request /progress describes was interrupted or skipped: the running one, or
   * while idle the last one (SD WebUI keeps describing it until the next begins).
   */
  interrupted: boolean;
  /** job_timestamp of the last request when idle (undefined while busy). */
  lastJobTimestamp?: string;
}

/**
 * Takes each image of a txt2img answer as it is decoded, with its position in the answer (a grid
 * first if any, then the images, then extras such as ControlNet maps), so a call's images need
 * not all be held at once. The answer is read on once it has taken the one before.
 */
export type ImageSink = (image: Uint8Array, position: number) => Promise<void>;

/** A GPU host running SD WebUI. */
export interface SdWebUi {
  /**
   * `answering` is called when the answer begins to arrive (its body may take a while). With a
   * sink, the images go to it as they arrive and the result's `images` is empty.
   */
  txt2img(
    payload: Record<string, unknown>,
    signal?: AbortSignal,
    answering?: () => void,
    sink?: ImageSink,
  ): Promise<Txt2ImgResult>;
  progress(signal?: AbortSignal): Promise<SdProgress>;
  interrupt(): Promise<void>;
  /** Titles of the installed txt2img scripts (alwayson ones included), as /sdapi/v1/scripts lists them. */
  scriptTitles(): Promise<string[]>;
  checkpoints(): Promise<Checkpoint[]>;
  /** Sampler names the host offers. */
  samplers(): Promise<string[]>;
  /** Scheduler names (and labels); undefined when the host has no scheduler setting (A1111 before 1.9). */
  schedulers(): Promise<string[] | undefined>;
  /** Upscaler names (/sdapi/v1/upscalers) and latent upscale modes: what hr_upscaler may name. */
  upscalers(): Promise<string[]>;
  /** ADetailer's detector models; undefined when the host has no ADetailer (its route answers 404). */
  adetailerModels(): Promise<string[] | undefined>;
  /** ControlNet's models ("name [hash]"); undefined when the host has no ControlNet extension. */
  controlNetModels(): Promise<string[] | undefined>;
}

/** A checkpoint as SD WebUI's /sdapi/v1/sd-models lists it (the fields sdbatch matches names on). */
export const Checkpoint = z.object({
  title: z.string(),
  model_name: z.string(),
  filename: z.string().optional(),
  hash: z.string().nullish(),
  sha256: z.string().nullish(),
});
export type Checkpoint = z.infer<typeof Checkpoint>;

/** Downloads a control image from a caller's URL, within the fetch policy (https, public hosts, caps). */
export interface ImageFetcher {
  fetch(url: string): Promise<Uint8Array>;
  /**
   * Throws, saying why, when the URL can never be fetched: not https, an IP literal, or a name
   * that resolves to a non-public address. fetch checks again at connect time and after redirects.
   */
  check(url: string): Promise<void>;
}

/** A lease whose call is over, with what the call measured, not yet given back. */
export interface FinishedLease {
  lease: Lease;
  measured?: RateSample;
}

/** Leases on GPU host slots and the queue of runners waiting for one, shared by every worker. */
export interface HostPool {
  readonly hosts: HostSpec[];
  /**
   * A lease on a free slot, or the reason none may be taken now. Never grants one slot twice.
   * `done` is a lease the caller has finished with: the pool decides as if it were free, hands its
   * slot straight to the new holder in the same write when that is the slot chosen, and releases
   * it otherwise (also when it refuses). A refused runner keeps its place in the queue.
   */
  acquire(ask: PoolAsk, leaseMs: number, done?: FinishedLease): Promise<Lease | SlotRefusal>;
  /**
   * Frees the slot if `lease` still holds it and wakes whoever is next in line. With a
   * measurement of the call, folds it into the host's rates in the same write.
   */
  release(lease: Lease, measured?: RateSample): Promise<void>;
  /**
   * Records the callback token of a runner waiting for a slot: a SendTaskSuccess on it ends the
   * wait. If a slot is free for it already (one freed while it got here), it is woken at once.
   */
  registerWaiter(claim: JobClaim, runner: number, token: string): Promise<void>;
  /** Wakes the waiters whose turn it is and forgets dead ones, from the head of the line. */
  sweep(): Promise<void>;
  /**
   * A runner with nothing more to ask for leaves the queue, and whoever its place held back is
   * woken: left in, a runner's place (it asks for a while after each grant) would keep others
   * waiting with no one left to wake them.
   */
  leaveQueue(claim: JobClaim, runner: number): Promise<void>;
  /** Forgets a job's places in the queue (the job has ended and will not ask again). */
  dropWaiters(jobId: string): Promise<void>;
  /**
   * Whether another live lease has this lease's holder: two asks for one iteration that read the
   * pool before either wrote can both win, on different slots. Read after the lease is written.
   */
  heldElsewhere(lease: Lease): Promise<boolean>;
  /** The job's SD WebUI calls in flight: its live leases. One pool read. */
  callsOf(jobId: string): Promise<number>;
  /** The holders (`job#iteration`) of the job's live leases: its iterations being made. One pool read. */
  holdersOf(jobId: string): Promise<Set<string>>;
  /** Whether a live lease has this holder (an iteration being made somewhere). One pool read. */
  isHeld(holder: string): Promise<boolean>;
  /**
   * Records a call's outcome (a failure with its error); the third failure in a row rests the
   * host. True when it is now resting.
   */
  reportHealth(lease: Lease, ok: boolean, error?: string): Promise<boolean>;
  /** Every host failing since its last success, or undefined (see poolOutage). One pool read. */
  outage(): Promise<PoolOutage | undefined>;
  /** Hosts resting after failures, for status. */
  resting(): Promise<string[]>;
  /** Each host's measured speed and health, for estimates: one read of the pool. */
  hostRates(): Promise<HostRate[]>;
  /** Runners waiting in the queue for a slot, registered and not yet woken (the metric): one read. */
  waitingRunners(): Promise<number>;
}

/** One ask for a slot (see SlotAsk); whether the asker hands a lease over is the pool's to see. */
export type PoolAsk = Omit<SlotAsk, 'continuing'>;

/**
 * Completes the callback tasks waiting for the GPU pool or a slot: Step Functions'
 * SendTaskSuccess, or the embedded orchestrator's own. (No heartbeat is ever sent: see
 * SWEEP_EVERY_MS.)
 */
export interface TaskCallbacks {
  /** Ends the waiting task with `output`; TaskGoneError if it no longer waits. */
  succeed(token: string, output: Record<string, unknown>): Promise<void>;
}

/** An image of the sheet: its seed for the label, and how to fetch its bytes when needed. */
export interface SheetSource {
  seed: number;
  load: () => Promise<Uint8Array>;
}

/** Draws the contact sheet: one bounded PNG grid of thumbnails labelled with seeds. */
export type ContactSheetRenderer = (
  images: SheetSource[],
  aspect: number,
) => Promise<{ png: Uint8Array; width: number; height: number }>;
