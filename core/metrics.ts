/**
 * The operational metrics sdbatch emits, named once: the Lambda handlers emit them (as CloudWatch
 * embedded metric format lines, adapters/powertools-metrics.ts) and the dashboard charts them
 * (cdk/constructs/operations.ts).
 */

/** The CloudWatch namespace, and the `service` dimension every metric carries (Powertools adds it). */
export const METRICS_NAMESPACE = 'sdbatch';
export const METRICS_SERVICE = 'sdbatch';

export const METRIC = {
  /** A job was stored and its execution started (the gateway's start). Count. */
  jobsStarted: 'JobsStarted',
  /** A job's workflow finished it (finalize), by its `Status` dimension. Count. */
  jobsEnded: 'JobsEnded',
  /** A generated image was stored in the bucket (retries that overwrite one count again). Count. */
  imagesStored: 'ImagesStored',
  /** Seconds a GPU host spent sampling for one SD WebUI call, by its `Host` dimension. */
  gpuBusySeconds: 'GpuBusySeconds',
  /** Runners in the queue for a GPU slot, read each time one joins it. Count. */
  runnersWaiting: 'RunnersWaiting',
  /**
   * A workflow task failed, by its `State` dimension. Lambda's own Errors metric cannot say this:
   * a generate task hands its wait to the state machine by throwing (NoSlotAvailableError,
   * RunPausedError), which Lambda counts as errors too; these are not counted here. Count.
   */
  taskErrors: 'TaskErrors',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/**
 * Dimensions beyond `service`, each of few values: a job's end status (completed, partial,
 * failed), a GPU host's id (host:port, one per host of the pool), a Task state's name (five).
 * Never a job id.
 */
export const DIMENSION = { status: 'Status', host: 'Host', state: 'State' } as const;
export type Dimensions = Partial<Record<(typeof DIMENSION)[keyof typeof DIMENSION], string>>;

export type MetricUnit = 'Count' | 'Seconds';

/** Where the handlers put what they measured: CloudWatch in AWS, nowhere (or a test's list) locally. */
export interface Metrics {
  add(name: MetricName, unit: MetricUnit, value: number, dimensions?: Dimensions): void;
}

/** The embedded stack's default: measurements go nowhere. */
export const NO_METRICS: Metrics = { add: () => {} };

/** One measurement as an in-memory sink keeps it. */
export interface MetricPoint {
  name: MetricName;
  unit: MetricUnit;
  value: number;
  dimensions: Dimensions;
}

/** Keeps every measurement, for tests and for whoever wants to read them in-process. */
export class MemoryMetrics implements Metrics {
  readonly points: MetricPoint[] = [];

  add(name: MetricName, unit: MetricUnit, value: number, dimensions: Dimensions = {}): void {
    this.points.push({ name, unit, value, dimensions });
  }

  /** The sum of one metric's values, over the points whose dimensions include `where`. */
  sum(name: MetricName, where: Dimensions = {}): number {
    return this.points
      .filter((p) => p.name === name)
      .filter((p) => Object.entries(where).every(([k, v]) => p.dimensions[k as keyof Dimensions] === v))
      .reduce((total, p) => total + p.value, 0);
  }
}
