import type { SdProgress } from '../ports.ts';

/**
 * One of a runner's calls to a host, as the runner's next call to that host needs to know it.
 * SD WebUI takes requests sent within a few ms of each other in either order, so the next call is
 * sent only once this one is `placed`: seen running (it holds SD WebUI's queue lock, and that lock
 * is FIFO), or answered.
 */
export class HostCall {
  /** SD WebUI's job_timestamp of its request, once the polls or its answer told. */
  run?: string;
  /** Its answer came (or it failed). */
  done = false;
  /** A next call waits on `placed`: the polls look for this request at a brisk pace. */
  followed = false;
  readonly placed: Promise<void>;
  /** Settles when its answer came (or it failed): a call that must not queue behind it waits for this. */
  readonly ended: Promise<void>;
  #place: () => void = () => {};
  #end: () => void = () => {};
  #onFollowed: () => void = () => {};

  constructor() {
    this.placed = new Promise((resolve) => {
      this.#place = resolve;
    });
    this.ended = new Promise((resolve) => {
      this.#end = resolve;
    });
  }

  /** The runner's next call to this host now waits for this one to be placed. */
  follow() {
    this.followed = true;
    this.#onFollowed();
  }

  /** Called when a next call starts to wait (the polls wake up to look briskly). */
  whenFollowed(listener: () => void) {
    this.#onFollowed = listener;
  }

  /** The polls saw its request begin. */
  seen(run: string) {
    this.run = run;
    this.#place();
  }

  /** Its answer came (or it failed); `run` from the answer's info when it has one. */
  end(run?: string) {
    this.run = run ?? this.run;
    this.done = true;
    this.#place();
    this.#end();
  }
}

/** A request SD WebUI began, as one /progress answer shows it: running, or the last one, ended. */
export interface SeenRequest {
  /** Its job_timestamp: one-second resolution, so two requests can share it. */
  ts: string;
  progress: number;
  ended: boolean;
}

export const seenRequest = (p: SdProgress): SeenRequest | undefined => {
  const ts = p.jobTimestamp ?? p.lastJobTimestamp;
  return ts === undefined ? undefined : { ts, progress: p.progress, ended: p.jobTimestamp === null };
};

/**
 * Whether `now` shows the request `last` showed. One that ended does not run again, and progress
 * does not go back within a request: either means a new one began in the same second.
 */
const sameRequest = (last: SeenRequest | undefined, now: SeenRequest) =>
  last?.ts === now.ts && (now.ended || (!last.ended && now.progress >= last.progress));

/**
 * Tells which request on a host is ours from /progress answers, which show one request at a time
 * and no id. Requests run in the order they reach SD WebUI's queue lock (FIFO). Ours is the first
 * new one after the one the host began last before we sent, unless it is the request of
 * `previous` (the runner's call sent to that host just before, and placed before ours went out).
 * Another client's request sent in the same instant as ours cannot be told from ours.
 */
export class RequestOrder {
  #last: (SeenRequest & { previous?: boolean }) | undefined;
  #primed = false;
  #previous: HostCall | undefined;
  /** Ours, as the polls last saw it, once found. */
  #ours: SeenRequest | undefined;

  /** An answer to a poll asked before our request went out: what it shows is not ours. */
  before(p: SdProgress) {
    this.#primed = true;
    this.#last = seenRequest(p) ?? this.#last;
  }

  /** Our request goes out now, after `previous` (see HostCall), if the runner has one out. */
  sent(previous?: HostCall) {
    this.#previous = previous;
  }

  /** An answer to a poll asked after our request went out: ours, once it shows. */
  after(p: SdProgress): SeenRequest | undefined {
    // No answer came before the send: what runs first is taken for the one ahead, never for ours
    // (a wrong "ours" could interrupt somebody else's request).
    if (!this.#primed) {
      this.before(p);
      return undefined;
    }
    const now = seenRequest(p);
    if (!now) return undefined;
    const previous = this.#previous;
    // The previous call was answered: its request has ended, whatever the timestamps say.
    if (this.#last && previous?.done && this.#last.ts === previous.run) this.#last.ended = true;
    if (sameRequest(this.#last, now)) {
      this.#last = { ...now, ...(this.#last?.previous ? { previous: true } : {}) };
      return undefined;
    }
    // A new request right after the previous call's is ours: nothing of this runner's was between.
    const afterPrevious = this.#last?.previous && this.#last.ts === previous?.run;
    if (!afterPrevious && this.#isPrevious(now)) {
      this.#last = { ...now, previous: true };
      return undefined;
    }
    this.#ours = now;
    return now;
  }

  /** Whether an answer shows our request still running; once it has ended, none does again. */
  running(p: SdProgress): boolean {
    const ours = this.#ours;
    if (!ours || ours.ended) return false;
    const now = seenRequest(p);
    if (now && !now.ended && sameRequest(ours, now)) {
      this.#ours = now;
      return true;
    }
    ours.ended = true;
    return false;
  }

  #isPrevious(now: SeenRequest) {
    const previous = this.#previous;
    if (!previous) return false;
    // Not yet seen by its own polls: the first new request is its (it went out first).
    if (previous.run === undefined) return !previous.done;
    return previous.run === now.ts && (now.ended || !previous.done);
  }
}
