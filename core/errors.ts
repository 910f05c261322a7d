/** Errors the workflow and the gateway tell apart; `name` is what Step Functions matches on. */

/** The GPU host could not do the work this time (refused, reset, 5xx, time-out, garbage): retry. */
export class SdWebUiUnavailableError extends Error {
  override readonly name = 'SdWebUiUnavailableError';
  /** The pool host that failed, once known: a retry prefers another. */
  hostId?: string;
  /**
   * A tunnel or proxy in front of the host gave up on the request (524, 502, 504): the host may
   * still be running it, so nothing more goes there until it is seen idle.
   */
  readonly mayStillRun: boolean;
  constructor(message: string, options?: ErrorOptions & { mayStillRun?: boolean }) {
    super(message, options);
    this.mayStillRun = options?.mayStillRun ?? false;
  }
}

/** The GPU host rejected the request itself (422 and other 4xx): retrying cannot help. */
export class SdWebUiRejectedError extends Error {
  override readonly name = 'SdWebUiRejectedError';
}

/**
 * A control image URL that could not be fetched. `transient` (a time-out, a 5xx, a reset): worth
 * another try; otherwise (a 404, a non-public address, too big) no try will do.
 */
export class ControlImageFetchError extends Error {
  override readonly name = 'ControlImageFetchError';
  readonly transient: boolean;
  constructor(message: string, transient: boolean) {
    super(message);
    this.transient = transient;
  }
}

/**
 * A store (DynamoDB, S3) stayed throttled or unreachable through the SDK's own retries: nothing is
 * wrong with the work, so it is not recorded as failed. The task ends with this error and the
 * state machine runs it again after a back-off (its Retry names it).
 */
export class TransientAwsError extends Error {
  override readonly name = 'TransientAwsError';
}

/** A job the caller cannot see: unknown, expired or someone else's. */
export class JobNotFoundError extends Error {
  override readonly name = 'JobNotFoundError';
  constructor(jobId: string) {
    super(`No job "${jobId}": it does not exist, has expired, or belongs to someone else.`);
  }
}

/** A request the caller can fix: the message says what and how. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
}

/**
 * Every GPU slot is taken or another job goes first: the runner ends and its execution waits in
 * "Wait for a GPU slot" until a slot is freed for it. `restingUntil`: every host rests until then.
 */
export class NoSlotAvailableError extends Error {
  override readonly name = 'NoSlotAvailableError';
  readonly restingUntil?: number;
  /** The job that goes first, when that is why; neither this nor restingUntil: every slot is busy. */
  readonly ahead?: string;
  constructor(message: string, why: { restingUntil?: number; ahead?: string } = {}) {
    super(message);
    if (why.restingUntil !== undefined) this.restingUntil = why.restingUntil;
    if (why.ahead !== undefined) this.ahead = why.ahead;
  }
}

/**
 * A generate task stopped before its iterations were all done: its time was nearly up, or its
 * slots went to another job. What it finished is kept; the state machine starts it again.
 */
export class RunPausedError extends Error {
  override readonly name = 'RunPausedError';
}

/** A callback task no longer waits for its token: answered, timed out, or its execution stopped. */
export class TaskGoneError extends Error {
  override readonly name = 'TaskGoneError';
}

/**
 * The job and image stores cannot serve at all (the embedded stack's stopped, for lack of space
 * say): the message names the cause and what will bring them back, so a caller is not told to
 * retry a request that cannot succeed until then.
 */
export class StoresUnavailableError extends Error {
  override readonly name = 'StoresUnavailableError';
}

/**
 * SD WebUI answered an image sdbatch does not store (not PNG, JPEG or WebP, or cut short): the
 * iteration fails with this reason, nothing of it stored. Not retried: the host answers in the
 * format its settings say, so another try there would answer the same.
 */
export class UnsupportedImageError extends Error {
  override readonly name = 'UnsupportedImageError';
}
