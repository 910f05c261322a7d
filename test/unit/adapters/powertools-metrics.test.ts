import { afterEach, describe, expect, it, vi } from 'vitest';
import { PowertoolsMetrics } from '../../../adapters/powertools-metrics.ts';
import { DIMENSION, METRIC, METRICS_NAMESPACE, METRICS_SERVICE } from '../../../core/metrics.ts';

/** What the adapter wrote to stdout, one JSON document per line (Lambda's log of the function). */
function captureStdout() {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  return {
    lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    restore: () => spy.mockRestore(),
  };
}

afterEach(() => vi.unstubAllEnvs());

describe('PowertoolsMetrics', () => {
  it('writes each measurement at once as an embedded-metric-format line, with the names the dashboard charts', () => {
    vi.stubEnv('POWERTOOLS_DEV', '');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const out = captureStdout();
    try {
      const metrics = new PowertoolsMetrics();
      metrics.add(METRIC.gpuBusySeconds, 'Seconds', 12.5, { [DIMENSION.host]: 'gpu1.example.com:7860' });
      metrics.add(METRIC.imagesStored, 'Count', 1);
    } finally {
      out.restore();
    }
    const [busy, images] = out.lines();
    expect(busy).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: METRICS_NAMESPACE,
            Dimensions: [expect.arrayContaining(['service', DIMENSION.host])],
            Metrics: [{ Name: METRIC.gpuBusySeconds, Unit: 'Seconds' }],
          },
        ],
      },
      service: METRICS_SERVICE,
      [DIMENSION.host]: 'gpu1.example.com:7860',
      [METRIC.gpuBusySeconds]: 12.5,
    });
    expect(images).toMatchObject({ service: METRICS_SERVICE, [METRIC.imagesStored]: 1 });
    expect(images).not.toHaveProperty(DIMENSION.host);
  });
});
