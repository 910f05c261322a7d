import { describe, expect, it } from 'vitest';
import type { SdProgress } from '../../../core/ports.ts';
import { HostCall, RequestOrder } from '../../../core/workflow/request-order.ts';

const running = (ts: string, progress: number): SdProgress => ({
  progress,
  step: 1,
  steps: 10,
  jobTimestamp: ts,
  interrupted: false,
});
const idle = (last: string): SdProgress => ({
  progress: 0,
  step: 0,
  steps: 0,
  jobTimestamp: null,
  interrupted: false,
  lastJobTimestamp: last,
});

/** Feeds answers asked after the send; returns the timestamp of the first one taken for ours. */
function oursAmong(order: RequestOrder, answers: SdProgress[]) {
  for (const [i, p] of answers.entries()) {
    const mine = order.after(p);
    if (mine) return { at: i, ts: mine.ts, ended: mine.ended };
  }
  return undefined;
}

const seenCall = (run: string) => {
  const call = new HostCall();
  call.seen(run);
  return call;
};

describe('request order: which request on the host is ours', () => {
  it('takes a request that began and ended between two polls for ours, from the last job the idle host names', () => {
    const order = new RequestOrder();
    order.before(idle('A'));
    order.sent();
    expect(oursAmong(order, [idle('A'), idle('B')])).toEqual({ at: 1, ts: 'B', ended: true });
  });

  it('takes a request in the same second as the one ahead for ours once progress goes back, or once that one ended', () => {
    const back = new RequestOrder();
    back.before(running('A', 0.6));
    back.sent();
    expect(oursAmong(back, [running('A', 0.7), running('A', 0.01)])).toMatchObject({ at: 1, ts: 'A' });

    const afterIdle = new RequestOrder();
    afterIdle.before(running('A', 0.6));
    afterIdle.sent();
    expect(oursAmong(afterIdle, [idle('A'), running('A', 0.8)])).toMatchObject({ at: 1, ts: 'A' });
  });

  it('leaves the previous call’s request to it, then takes the next one, even in the same second', () => {
    const previous = seenCall('B');
    const order = new RequestOrder();
    order.before(idle('A'));
    order.sent(previous);
    expect(oursAmong(order, [running('B', 0.3), running('B', 0.01)])).toMatchObject({ at: 1, ts: 'B' });
  });

  it('takes the request in the previous call’s second for ours once that call was answered', () => {
    const previous = seenCall('B');
    const order = new RequestOrder();
    order.before(running('B', 0.2));
    order.sent(previous);
    // Same second and progress never went back: only the previous call's answer tells.
    expect(order.after(running('B', 0.5))).toBeUndefined();
    previous.end('B');
    expect(order.after(running('B', 0.6))).toMatchObject({ ts: 'B', ended: false });
  });

  it('does not take what the idle host says of the previous call’s request, answered already, for ours', () => {
    const previous = new HostCall();
    previous.end('B');
    const order = new RequestOrder();
    order.before(idle('A'));
    order.sent(previous);
    expect(oursAmong(order, [idle('B'), running('C', 0.1)])).toMatchObject({ at: 1, ts: 'C' });
  });

  it('with no answer before the send, takes the first request it sees for the one ahead, never for ours', () => {
    const order = new RequestOrder();
    order.sent();
    expect(oursAmong(order, [running('A', 0.1), running('A', 0.4), running('B', 0.1)])).toMatchObject({
      at: 2,
      ts: 'B',
    });
  });

  it('settles a call’s placement when its request is seen or its answer comes', async () => {
    const seen = new HostCall();
    seen.seen('A');
    await seen.placed;
    expect(seen).toMatchObject({ run: 'A', done: false });
    const answered = new HostCall();
    answered.end();
    await answered.placed;
    expect(answered).toMatchObject({ run: undefined, done: true });
  });
});
