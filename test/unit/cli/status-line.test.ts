import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOutput, REDRAW, type Terminal } from '../../../cli/output.ts';
import { barCells, remainingSeconds, type Status, statusLine, steadyEta } from '../../../cli/status-line.ts';
import { remainingSeconds as serverRemainingSeconds } from '../../../core/estimate.ts';

const status = (over: Partial<Status> = {}): Status => ({
  job_id: 'job_20261127_aaaaaaaaaa',
  status: 'running',
  completed_images: 5,
  failed_images: 0,
  total_images: 120,
  progress: '5/120 images completed',
  elapsed_time: '1h 02m',
  elapsed_seconds: 3725,
  estimated_remaining: '1h 06m',
  estimated_remaining_seconds: 3960,
  current: { iteration: 13, step: 15, steps: 20 },
  poll_after_seconds: 60,
  ...over,
});

/** A terminal of `columns` columns that keeps what was written to it. */
function terminal(columns: number | undefined, isTTY = true): Terminal & { written: string } {
  return {
    isTTY,
    columns,
    written: '',
    write(text: string) {
      this.written += text;
      return true;
    },
  };
}

describe('statusLine', () => {
  it('says everything with long labels where there is room, as the README shows it', () => {
    expect(statusLine(status(), 3960)).toBe(
      '[#-----------------------] 5/120 running · step 15/20 of iteration 13 · 1h 02m elapsed · ETA 1h 06m',
    );
  });

  it('shortens the labels first, then leaves out the step and the elapsed time, then the bar', () => {
    const failing = status({ failed_images: 2 });
    expect(statusLine(failing, 3960, 120)).toBe(
      '[#-----------------------] 5/120 running, 2 failed · step 15/20 of iteration 13 · 1h 02m elapsed · ETA 1h 06m',
    );
    expect(statusLine(failing, 3960, 79)).toBe(
      '[#--------------] 5/120 running, 2 failed · step 15/20 · 1h 02m · ETA 1h 06m',
    );
    expect(statusLine(failing, 3960, 59)).toBe('[-----------] 5/120 running, 2 failed · ETA 1h 06m');
    expect(statusLine(failing, 3960, 30)).toBe('5/120 running, 2 failed · ETA ');
  });

  it("keeps the bar's width from frame to frame: it hangs on the columns alone", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 800 }),
        fc.integer({ min: 0, max: 400_000 }),
        fc.option(fc.integer({ min: 0, max: 400_000 })),
        fc.option(
          fc.record({ iteration: fc.nat(99), step: fc.nat(150), steps: fc.integer({ min: 1, max: 150 }) }),
        ),
        fc.integer({ min: 50, max: 240 }),
        (done, elapsed, eta, current, width) => {
          const line = statusLine(
            status({ completed_images: done, total_images: 800, elapsed_seconds: elapsed, current }),
            eta,
            width,
          );
          expect(line.indexOf(']') + 1).toBe(barCells(width) + 2);
        },
      ),
    );
    // 60 columns (59 usable): the same 13 characters at every step of the example.
    const widths = [0, 8, 20].map((step) =>
      statusLine(
        status({
          total_images: 12,
          completed_images: 0,
          elapsed_seconds: step * 400,
          current: { iteration: 1, step, steps: 20 },
        }),
        12 + step * 1000,
        59,
      ).indexOf(']'),
    );
    expect(widths).toEqual([12, 12, 12]);
  });

  it('never needs more columns than it is given', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 800 }),
        fc.integer({ min: 0, max: 800 }),
        fc.integer({ min: 0, max: 400_000 }),
        fc.option(fc.integer({ min: 0, max: 400_000 })),
        fc.option(
          fc.record({ iteration: fc.nat(99), step: fc.nat(150), steps: fc.integer({ min: 1, max: 150 }) }),
        ),
        fc.integer({ min: 1, max: 240 }),
        (done, failed, elapsed, eta, current, width) => {
          const line = statusLine(
            status({
              completed_images: done,
              failed_images: failed,
              total_images: 800,
              elapsed_seconds: elapsed,
              current,
            }),
            eta,
            width,
          );
          expect(line.length).toBeLessThanOrEqual(width);
        },
      ),
    );
  });
});

describe('the live line', () => {
  it.each([60, 80, 120])(
    'fits a %i-column terminal on every redraw and leaves one line behind',
    (columns) => {
      const screen = terminal(columns);
      const out = createOutput(false, screen);
      for (let done = 0; done <= 120; done += 24) {
        const s = status({ completed_images: done, elapsed_seconds: 30 * done });
        out.live((width) => statusLine(s, 3600 - 30 * done, width), String(done));
      }
      const last = status({
        completed_images: 120,
        status: 'completed',
        current: null,
        poll_after_seconds: null,
      });
      out.result(last, (width) => statusLine(last, null, width));

      const chunks = screen.written.split(REDRAW);
      expect(chunks[0]).toBe('');
      const frames = chunks.slice(1, -1);
      expect(frames).toHaveLength(6);
      for (const frame of frames) {
        expect(frame).not.toContain('\n');
        // The last column stays empty: a character there makes some terminals wrap.
        expect(frame.length).toBeLessThan(columns);
      }
      expect(chunks.at(-1)).toMatch(/^\[#+\] 120\/120 completed · .*\n$/);
      expect(screen.written.split('\n')).toHaveLength(2);
    },
  );

  it('prints one line per change of its key when the output is not a terminal', () => {
    const piped = terminal(undefined, false);
    const out = createOutput(false, piped);
    for (const [done, step] of [
      [0, 1],
      [0, 9],
      [24, 3],
      [24, 17],
      [48, 2],
    ] as const) {
      const s = status({ completed_images: done, current: { iteration: 1, step, steps: 20 } });
      out.live((width) => statusLine(s, 100, width), String(done));
    }
    expect(piped.written.split('\n').map((line) => line.split(' running')[0])).toEqual([
      '[------------------------] 0/120',
      '[#####-------------------] 24/120',
      '[##########--------------] 48/120',
      '',
    ]);
  });

  it('draws nothing with --json, where each update is a JSON line', () => {
    const screen = terminal(80);
    const out = createOutput(true, screen);
    out.live(() => 'a bar', '1');
    out.update({ completed_images: 1 });
    expect(screen.written).toBe('{"completed_images":1}\n');
  });
});

describe('remainingSeconds', () => {
  /** The second call of a 16-image job, 4 images a call, polled each second: 20 steps at a step a second, as the first. */
  const sampling = Array.from({ length: 20 }, (_, step) =>
    status({
      completed_images: 4,
      total_images: 16,
      elapsed_seconds: 20 + step,
      current: { iteration: 1, step, steps: 20 },
      // What the server says meanwhile: finished images only.
      estimated_remaining_seconds: serverRemainingSeconds({
        elapsedSeconds: 20 + step,
        doneImages: 4,
        totalImages: 16,
        estimatedSeconds: 80,
      }),
    }),
  );

  it("shows the server's estimate, which counts the running call (core/status-view.ts)", () => {
    const etas = sampling.map((s) => remainingSeconds(s));
    expect(etas).toEqual(sampling.map((s) => s.estimated_remaining_seconds));
  });

  it("keeps the server's estimate before the first image, and gives none once the job has ended", () => {
    const first = status({ completed_images: 0, estimated_remaining_seconds: 42 });
    expect(remainingSeconds(first)).toBe(42);
    expect(remainingSeconds(status({ completed_images: 3, estimated_remaining_seconds: 42 }))).toBe(42);
    expect(remainingSeconds(status({ poll_after_seconds: null }))).toBeNull();
  });

  it('shows what the job waits for in place of an ETA when status gives no time, and counts none', () => {
    const waiting = status({
      estimated_remaining:
        'waiting for a GPU host: gpu:7860 failing since 20:01:02Z (1m 30s), last error: refused',
      estimated_remaining_seconds: null,
      current: null,
    });
    expect(remainingSeconds(waiting)).toBeNull();
    expect(statusLine(waiting, null)).toBe(
      '[#-----------------------] 5/120 running · 1h 02m elapsed · waiting for a GPU host: gpu:7860 failing since 20:01:02Z (1m 30s), last error: refused',
    );
    expect(statusLine(waiting, null, 70)).toBe(
      '[#-------------] 5/120 running · 1h 02m · waiting for a GPU host',
    );
  });

  it('as shown live, falls or holds until the finished count changes, then starts afresh', () => {
    const shown = steadyEta();
    const at = (completed: number, eta: number | null) => shown(status({ completed_images: completed }), eta);
    // The queued call's step 0, or no call at all: the estimate alone would climb.
    expect([at(2, 12), at(2, 15), at(2, 9), at(2, 11), at(4, 14), at(4, 16), at(4, null), at(4, 13)]).toEqual(
      [12, 12, 9, 9, 14, 14, null, 13],
    );
  });
});
