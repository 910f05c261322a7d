import type { RateSample } from '../core/estimate.ts';
import { IMAGE_PREFIX } from '../core/image-key.ts';
import { DIMENSION, METRIC, type Metrics } from '../core/metrics.ts';
import type { Lease } from '../core/pool/host-pool.ts';
import type { HostPool, ImageStore } from '../core/ports.ts';

/**
 * The workers' ports, measured where they learn the facts: the image store sees each generated
 * image stored, the pool each call's GPU time (it rides on the lease's release or hand-over) and
 * each runner that joins its queue. The core calls the ports as before and knows nothing of this.
 */

/** `target` with `overrides` in place of some of its methods; everything else is its own. */
function withOverrides<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof T];
      const value = Reflect.get(object, property, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/** Counts each generated image stored: keys under jobs/ are exactly those (core/image-key.ts). */
export function meteredImages<S extends ImageStore>(images: S, metrics: Metrics): S {
  return withOverrides<S>(images, {
    put: async (image) => {
      await images.put(image);
      if (image.key.startsWith(IMAGE_PREFIX)) metrics.add(METRIC.imagesStored, 'Count', 1);
    },
  } as Partial<S>);
}

/** GPU seconds per host from each call's measurement, and the queue's length as a runner joins it. */
export function meteredPool<P extends HostPool>(pool: P, metrics: Metrics): P {
  const busy = (lease: Lease, measured?: RateSample) => {
    if (measured?.busySeconds === undefined) return;
    metrics.add(METRIC.gpuBusySeconds, 'Seconds', measured.busySeconds, { [DIMENSION.host]: lease.hostId });
  };
  const overrides: Pick<HostPool, 'release' | 'acquire' | 'registerWaiter'> = {
    release: (lease, measured) => {
      busy(lease, measured);
      return pool.release(lease, measured);
    },
    acquire: (ask, leaseMs, done) => {
      if (done) busy(done.lease, done.measured);
      return pool.acquire(ask, leaseMs, done);
    },
    registerWaiter: async (claim, runner, token) => {
      await pool.registerWaiter(claim, runner, token);
      // A metric, not the wait: a failed read loses one point and nothing else.
      const waiting = await pool.waitingRunners().catch(() => undefined);
      if (waiting !== undefined) metrics.add(METRIC.runnersWaiting, 'Count', waiting);
    },
  };
  return withOverrides<P>(pool, overrides as Partial<P>);
}
