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
}

/**
 * A written pace is rewritten once it is this far off what a poll sees (and at least a step):
 * status reads the step from it, and should be within a second of the truth.
 */
const DRIFT_SECONDS = 0.5;

/**
 * Measures the pace of one call's sampling from the polls that saw it: the steps between the
 * first (or the last written, see restart) and the latest sighting of the pass over the time
 * between them. A pass begins anew when the step count changes (hires fix's second pass) or the
 * step goes back.
 */
export class SamplingFit {
  #first: StepSighting | undefined;
  #last: StepSighting | undefined;

  see(sighting: StepSighting) {
    const last = this.#last;
    if (!last || sighting.steps !== last.steps || sighting.step < last.step) this.#first = sighting;
    this.#last = sighting;
  }

  /** Measures from the latest sighting on: a pace written again is the pace since the last write. */
  restart() {
    this.#first = this.#last;
  }

  /** The pace so far; undefined until two sightings of the pass are a step or more apart. */
  pace(): SamplingPace | undefined {
    const first = this.#first;
    const last = this.#last;
    if (!first || !last || last.step <= first.step || last.at <= first.at) return undefined;
    const stepsPerSecond = ((last.step - first.step) * 1000) / (last.at - first.at);
    // A poll showing step s was answered somewhere within step s + 1: the middle is the best guess.
    return { since: last.at - ((last.step + 0.5) / stepsPerSecond) * 1000, stepsPerSecond };
  }
}

/** Whether what a poll sees is too far from the step a written pace gives for that moment. */
export function drifted(written: SamplingPace & { steps: number }, seen: StepSighting): boolean {
  if (seen.steps !== written.steps) return true;
  const expected = ((seen.at - written.since) / 1000) * written.stepsPerSecond;
  const off = Math.abs(expected - (seen.step + 0.5));
  return off > Math.max(1, written.stepsPerSecond * DRIFT_SECONDS);
}
