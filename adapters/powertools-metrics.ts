import { Metrics as Powertools } from '@aws-lambda-powertools/metrics';
import {
  type Dimensions,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type MetricName,
  type Metrics,
  type MetricUnit,
} from '../core/metrics.ts';

/**
 * Metrics as CloudWatch embedded metric format lines on the function's stdout: CloudWatch Logs
 * turns them into metrics, so emitting needs no API call and no IAM permission. Each measurement
 * is written at once (a single metric), so nothing waits for a flush at the end of an invocation
 * and each carries its own dimensions.
 */
export class PowertoolsMetrics implements Metrics {
  readonly #metrics: Powertools;

  constructor(options: { namespace?: string } = {}) {
    this.#metrics = new Powertools({
      namespace: options.namespace ?? METRICS_NAMESPACE,
      serviceName: METRICS_SERVICE,
    });
  }

  add(name: MetricName, unit: MetricUnit, value: number, dimensions: Dimensions = {}): void {
    const single = this.#metrics.singleMetric();
    for (const [dimension, dimensionValue] of Object.entries(dimensions)) {
      if (dimensionValue !== undefined) single.addDimension(dimension, dimensionValue);
    }
    single.addMetric(name, unit, value);
  }
}
