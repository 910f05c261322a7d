/** A poll's sight of our request sampling: the step it showed, of how many, and when (epoch ms, our clock). */
export interface StepSighting {
  at: number;
  step: number;
  steps: number;
}

/** How a call samples, as its polls measured it: when its sampling began (epoch ms, our clock) and its rate. */
export interface SamplingPace {
  since: number;
  stepsPerSecond: number;
  /** Placed at the rate the runner's last call measured (see SamplingFit), not measured yet. */
  assumed?: true;
}

/**
 * A written pace is rewritten once it is this far off what a poll sees (and at least a step):
 * status reads the step from it, and should be within a second of the truth.
 */
const DRIFT_SECONDS = 0.5;

/**
 * Steps a pace must be measured over before it is written. A poll shows whole steps, so each end
 * of a measurement may be off by up to a step: over one step (two polls a second apart on a GPU
 * taking 0.8 s a step, as the SD WebUI kit does) the rate may read double, and the step shown
 * would run ahead by several. Over four, it is within a quarter.
 */
export const MIN_FIT_STEPS = 4;

/**
 * Rates the runner's calls to one host measured, by a pass's step count: its next call of those
 * steps samples at the same rate, so the first poll that sees it can place it.
 */
export type KnownPaces = Map<number, number>;

/**
 * Measures the pace of one call's sampling from the polls that saw it: the steps between the
 * first (or the last written, see restart) and the latest sighting of the pass over the time
 * between them, once they are MIN_FIT_STEPS apart. Before its first write a pass may be placed
 * from one sighting, at the rate the runner's last call of these steps had on this host
 * (`known`). A pass begins anew when the step count changes (hires fix's second pass) or the
 * step goes back.
 */
export class SamplingFit {
  #first: StepSighting | undefined;
  #last: StepSighting | undefined;
  #passFirst: StepSighting | undefined;
  /** Whether a pace of this pass was written: from then on only a fresh measurement may correct it. */
  #restarted = false;
  readonly #known: KnownPaces;

  constructor(known: KnownPaces = new Map()) {
    this.#known = known;
  }

  see(sighting: StepSighting) {
    const last = this.#last;
    if (!last || sighting.steps !== last.steps || sighting.step < last.step) {
      this.#first = sighting;
      this.#passFirst = sighting;
      this.#restarted = false;
    }
    this.#last = sighting;
    // The whole pass's rate, for the runner's next call of these steps on this host.
    const whole = rate(this.#passFirst as StepSighting, sighting);
    if (whole !== undefined) this.#known.set(sighting.steps, whole);
  }

  /** Measures from the latest sighting on: a pace written again is the pace since the last write. */
  restart() {
    this.#first = this.#last;
    this.#restarted = true;
  }

  /** The pace so far (see the class); undefined while nothing gives one. */
  pace(): SamplingPace | undefined {
    const first = this.#first;
    const last = this.#last;
    if (!first || !last) return undefined;
    const measured = rate(first, last);
    const stepsPerSecond = measured ?? (this.#restarted ? undefined : this.#known.get(last.steps));
    if (stepsPerSecond === undefined) return undefined;
    // A poll showing step s was answered somewhere within step s + 1: the middle is the best guess.
    const since = last.at - ((last.step + 0.5) / stepsPerSecond) * 1000;
    return measured === undefined ? { since, stepsPerSecond, assumed: true } : { since, stepsPerSecond };
  }
}

/**
 * Steps a second between two sightings of a pass, once they are MIN_FIT_STEPS apart, or as far
 * apart as a short pass allows: its first step (0) and last two (held while decoding) show no pace.
 */
function rate(first: StepSighting, last: StepSighting): number | undefined {
  const apart = Math.max(1, Math.min(MIN_FIT_STEPS, last.steps - 3));
  if (last.step - first.step < apart || last.at <= first.at) return undefined;
  return ((last.step - first.step) * 1000) / (last.at - first.at);
}

/** Whether what a poll sees is too far from the step a written pace gives for that moment. */
export function drifted(written: SamplingPace & { steps: number }, seen: StepSighting): boolean {
  if (seen.steps !== written.steps) return true;
  const expected = ((seen.at - written.since) / 1000) * written.stepsPerSecond;
  const off = Math.abs(expected - (seen.step + 0.5));
  return off > Math.max(1, written.stepsPerSecond * DRIFT_SECONDS);
}
