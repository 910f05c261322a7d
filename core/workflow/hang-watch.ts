import { formatDuration } from '../duration.ts';
import type { SdProgress } from '../ports.ts';

/**
 * How long a host may show no sign of working on a call before the call counts as hung, well
 * before its deadline (which grows with the work): 10 iterations on a hanging host then fail
 * within minutes. A working SD WebUI answers /progress while it samples, and runs a queued
 * request as soon as the one before it ends; an upload of large inputs over a slow tunnel, before
 * SD WebUI begins the request, is the longest quiet a healthy call has.
 */
export const HANG_MS = 90_000;

/**
 * Watches one sent call through its /progress polls, and aborts it as hung when, before its answer
 * begins, the host either answers no poll for `limitMs` (a host that accepts connections and says
 * nothing), or shows no request running for `limitMs` (the call was lost: a host holding it would
 * run it). Once the answer begins, its transfer is not watched: a large body may take a while.
 */
export class HangWatch {
  readonly #limitMs: number;
  readonly #controller = new AbortController();
  #sentAt: number | undefined;
  #lastAnswer: number | undefined;
  #idleSince: number | undefined;
  #answering = false;
  /** Why the call counts as hung, once it does. */
  verdict: string | undefined;

  constructor(limitMs = HANG_MS) {
    this.#limitMs = limitMs;
  }

  /** Aborts when the call is found hung. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The call went out at `at` (epoch ms): watching starts. */
  sent(at: number) {
    this.#sentAt = at;
  }

  /** The answer began: what is left is its transfer. */
  answering() {
    this.#answering = true;
  }

  /** One poll's outcome at `at`: its answer, or undefined when it failed. */
  polled(at: number, progress: SdProgress | undefined) {
    if (this.#sentAt === undefined || this.#answering || this.verdict) return;
    if (progress) {
      this.#lastAnswer = at;
      const idle = progress.jobTimestamp === null;
      this.#idleSince = idle ? (this.#idleSince ?? at) : undefined;
    }
    const quiet = at - Math.max(this.#sentAt, this.#lastAnswer ?? this.#sentAt);
    const limit = formatDuration(this.#limitMs / 1000);
    if (quiet >= this.#limitMs) {
      this.verdict = `answered neither the call nor /progress for ${limit}`;
    } else if (this.#idleSince !== undefined && at - this.#idleSince >= this.#limitMs) {
      this.verdict = `showed no request running for ${limit} while the call had no answer: the call was lost`;
    }
    if (this.verdict) this.#controller.abort(new Error(this.verdict));
  }
}
