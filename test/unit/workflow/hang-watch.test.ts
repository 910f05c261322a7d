import { describe, expect, it } from 'vitest';
import type { SdProgress } from '../../../core/ports.ts';
import { HangWatch } from '../../../core/workflow/hang-watch.ts';

const LIMIT = 90_000;
const idle: SdProgress = { progress: 0, step: 0, steps: 0, jobTimestamp: null, interrupted: false };
const busy: SdProgress = {
  progress: 0.4,
  step: 8,
  steps: 20,
  jobTimestamp: '20261207200000',
  interrupted: false,
};

/** A watch on a call sent at 0, told of a poll every second with what `at(t)` answers. */
function watchFor(seconds: number, at: (t: number) => SdProgress | undefined, answerAt?: number) {
  const watch = new HangWatch(LIMIT);
  watch.sent(0);
  for (let t = 1; t <= seconds; t++) {
    if (t === answerAt) watch.answering();
    watch.polled(t * 1000, at(t));
  }
  return watch;
}

describe('a call the host does not work on', () => {
  it('is hung once the host answers no poll for the limit, and the watch aborts it', () => {
    expect(watchFor(89, () => undefined).verdict).toBeUndefined();
    const watch = watchFor(90, () => undefined);
    expect(watch.verdict).toBe('answered neither the call nor /progress for 1m 30s');
    expect(watch.signal.aborted).toBe(true);
  });

  it('is hung once the host shows no request running for the limit (the call was lost)', () => {
    // Sampled for 10 s, then idle with no answer.
    const lost = watchFor(101, (t) => (t <= 10 ? busy : idle));
    expect(lost.verdict).toMatch(/^showed no request running for 1m 30s while the call had no answer/);
    expect(watchFor(99, (t) => (t <= 10 ? busy : idle)).verdict).toBeUndefined();
  });

  it('is not hung while the host samples, however long, nor while its answer arrives', () => {
    expect(watchFor(3_600, () => busy).verdict).toBeUndefined();
    expect(watchFor(600, (t) => (t <= 10 ? busy : idle), 11).verdict).toBeUndefined();
    expect(watchFor(600, (t) => (t % 60 === 0 ? busy : idle)).verdict).toBeUndefined();
  });
});
