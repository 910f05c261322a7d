import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  DIMENSION,
  type Dimensions,
  METRIC,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type MetricName,
} from '../../core/metrics.ts';
import type { NodeFunction } from './node-function.ts';

export interface OperationsProps {
  stateMachine: StateMachine;
  /** The generate task's function: its failures and throttles are alarmed on. */
  generate: NodeFunction;
  /** The gateway: its Function URL's 5xx answers are alarmed on. */
  gateway: NodeFunction;
  /** The pool's host ids (host:port), one GPU-busy line each. */
  hostIds: string[];
  /** Where the alarms are mailed; without it the topic has no subscriber until you add one. */
  alarmEmail?: string;
}

const FIVE_MINUTES = Duration.minutes(5);
const ONE_MINUTE = Duration.minutes(1);
/** How a job ends when its workflow finishes it (finalize); a cancelled job's execution is stopped instead. */
const END_STATUSES = ['completed', 'partial', 'failed'] as const;

/**
 * Telling someone when it breaks: alarms on what only goes wrong in a fault (failed and timed-out
 * executions, generate task failures and throttles, gateway 5xx) to one SNS topic, optionally
 * mailed; and a dashboard of the metrics sdbatch emits (core/metrics.ts) beside AWS's own.
 */
export class Operations extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Alarms', { displayName: 'sdbatch alarms', enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));

    const { stateMachine, generate, gateway } = props;
    const alarm = (name: string, metric: IMetric, description: string) =>
      new Alarm(this, name, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // These metrics have no data point when nothing happened: that is the good case.
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
    const sum = { period: FIVE_MINUTES, statistic: 'Sum' };
    this.alarms = [
      alarm(
        'ExecutionsFailed',
        stateMachine.metricFailed(sum),
        'A job execution failed: the Step Functions console shows which state and why.',
      ),
      alarm('ExecutionsTimedOut', stateMachine.metricTimedOut(sum), 'A job execution ran past its time-out.'),
      alarm(
        'GenerateErrors',
        sdbatchMetric(METRIC.taskErrors, { [DIMENSION.state]: 'Generate images' }, sum),
        'A generate task failed (waits for a GPU slot and pauses are not counted): see its log group.',
      ),
      alarm(
        'GenerateThrottles',
        generate.fn.metricThrottles(sum),
        "Lambda refused to run a generate task: the account's concurrency is used up (README, Account quotas).",
      ),
      alarm(
        'Gateway5xx',
        gateway.fn.metric('Url5xxCount', sum),
        'The MCP gateway answered 5xx: see its log group.',
      ),
    ];
    const action = new SnsAction(this.topic);
    for (const each of this.alarms) each.addAlarmAction(action);

    this.dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: dashboardRows(props),
    });
  }
}

/** One of sdbatch's own metrics, as the handlers emit it (with Powertools' service dimension). */
function sdbatchMetric(
  name: MetricName,
  dimensions: Dimensions,
  options: { period: Duration; statistic: string },
) {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: METRICS_SERVICE, ...(dimensions as Record<string, string>) },
    ...options,
  });
}

function dashboardRows(props: OperationsProps) {
  const perMinute = { period: ONE_MINUTE, statistic: 'Sum' };
  const graph = (
    title: string,
    left: IMetric[],
    leftYAxis?: { min?: number; max?: number; label?: string },
  ) => new GraphWidget({ title, left, width: 12, height: 6, leftYAxis: { min: 0, ...leftYAxis } });
  const ended = END_STATUSES.map((status) =>
    sdbatchMetric(METRIC.jobsEnded, { [DIMENSION.status]: status }, perMinute).with({
      label: `ended ${status}`,
    }),
  );
  // Seconds of sampling a minute, as a share of the minute: 100% is a GPU that never waited.
  const busy = props.hostIds.map(
    (host, i) =>
      new MathExpression({
        expression: `100 * busy${i} / 60`,
        usingMetrics: {
          [`busy${i}`]: sdbatchMetric(METRIC.gpuBusySeconds, { [DIMENSION.host]: host }, perMinute),
        },
        label: host,
        period: ONE_MINUTE,
      }),
  );
  return [
    [
      new TextWidget({
        markdown:
          '**sdbatch**: jobs and images from the metrics its functions emit (namespace `sdbatch`). ' +
          'GPU busy is sampling seconds per minute per host; runners waiting is the GPU queue as runners join it.',
        width: 24,
        height: 2,
      }),
    ],
    [
      graph('Jobs started and ended (per minute)', [
        sdbatchMetric(METRIC.jobsStarted, {}, perMinute).with({ label: 'started' }),
        ...ended,
      ]),
      graph('Images stored (per minute)', [
        sdbatchMetric(METRIC.imagesStored, {}, perMinute).with({ label: 'images' }),
      ]),
    ],
    [
      graph('GPU busy per host (% of each minute)', busy, { max: 100, label: '%' }),
      graph('Runners waiting for a GPU slot (max per minute)', [
        sdbatchMetric(METRIC.runnersWaiting, {}, { period: ONE_MINUTE, statistic: 'Maximum' }).with({
          label: 'waiting',
        }),
      ]),
    ],
    [
      graph('Executions failed and timed out', [
        props.stateMachine.metricFailed(perMinute),
        props.stateMachine.metricTimedOut(perMinute),
      ]),
      graph('Generate task failures and throttles, gateway 5xx', [
        sdbatchMetric(METRIC.taskErrors, { [DIMENSION.state]: 'Generate images' }, perMinute).with({
          label: 'generate failures',
        }),
        props.generate.fn.metricThrottles(perMinute).with({ label: 'generate throttles' }),
        props.gateway.fn.metric('Url5xxCount', perMinute).with({ label: 'gateway 5xx' }),
      ]),
    ],
  ];
}
