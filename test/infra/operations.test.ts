import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIMENSION, METRIC, METRICS_NAMESPACE } from '../../core/metrics.ts';
import { nagViolations, type Synthesized, synthesize, TUNNEL_CONTEXT } from './synth.ts';
import { gatewayFunction, resources, taskFunction } from './template-queries.ts';

const POOL = 'https://gpu1.example.com,https://gpu2.example.com:8443';

let plain: Synthesized;
let mailed: Synthesized;
beforeAll(() => {
  plain = synthesize(TUNNEL_CONTEXT);
  mailed = synthesize({ sdWebUiUrl: POOL, alarmEmail: 'ops@example.com' });
});
afterAll(() => {
  plain?.dispose();
  mailed?.dispose();
});

/** An alarm's properties, by the metric it watches. */
const alarmOn = (s: Synthesized, metricName: string) =>
  Object.values(resources(s.template, 'AWS::CloudWatch::Alarm')).find(
    (a) => a.Properties.MetricName === metricName,
  )?.Properties;

const topicRef = (s: Synthesized) => ({ Ref: Object.keys(resources(s.template, 'AWS::SNS::Topic'))[0] });

describe('operations', () => {
  it('passes cdk-nag with the topic and its subscription', () => {
    expect(nagViolations(mailed.assembly)).toEqual([]);
  });

  it('alarms on failed and timed-out executions, generate failures and throttles, and gateway 5xx, to one topic', () => {
    const alarms = resources(plain.template, 'AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms)).toHaveLength(5);
    const stateMachine = {
      Ref: Object.keys(resources(plain.template, 'AWS::StepFunctions::StateMachine'))[0],
    };
    const [generateId] = taskFunction(plain.template, 'Generate images');
    const [gatewayId] = gatewayFunction(plain.template);
    const expected = {
      ExecutionsFailed: {
        Namespace: 'AWS/States',
        Dimensions: [{ Name: 'StateMachineArn', Value: stateMachine }],
      },
      ExecutionsTimedOut: {
        Namespace: 'AWS/States',
        Dimensions: [{ Name: 'StateMachineArn', Value: stateMachine }],
      },
      [METRIC.taskErrors]: {
        Namespace: METRICS_NAMESPACE,
        Dimensions: Match.arrayWith([{ Name: DIMENSION.state, Value: 'Generate images' }]),
      },
      Throttles: {
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: generateId } }],
      },
      Url5xxCount: {
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: gatewayId } }],
      },
    };
    for (const [metricName, where] of Object.entries(expected)) {
      plain.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metricName,
        ...where,
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topicRef(plain)],
      });
    }
  });

  it('counts generate failures from the metric the handlers emit, not Lambda Errors (a wait for a slot throws too)', () => {
    expect(alarmOn(plain, 'Errors')).toBeUndefined();
    expect(alarmOn(plain, METRIC.taskErrors)?.Dimensions).toEqual(
      expect.arrayContaining([{ Name: 'service', Value: 'sdbatch' }]),
    );
  });

  it('mails the alarms to alarmEmail when it is given, and has no subscriber otherwise', () => {
    mailed.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: topicRef(mailed),
    });
    expect(Object.keys(resources(plain.template, 'AWS::SNS::Subscription'))).toHaveLength(0);
    // Only over TLS: the topic's policy denies plain-HTTP publishing.
    plain.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    expect(() => synthesize({ ...TUNNEL_CONTEXT, alarmEmail: 'not-an-address' })).toThrow(
      /alarmEmail: expected an e-mail address/,
    );
  });

  it("charts jobs started and ended, images, GPU busy per host and runners waiting, under the emitters' names", () => {
    const [dashboard] = Object.values(resources(mailed.template, 'AWS::CloudWatch::Dashboard'));
    // The body is a Fn::Join around the region: its literal parts hold the widgets.
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    for (const name of [METRIC.jobsStarted, METRIC.jobsEnded, METRIC.imagesStored, METRIC.runnersWaiting]) {
      expect(body).toContain(`\\"${METRICS_NAMESPACE}\\",\\"${name}\\"`);
    }
    for (const status of ['completed', 'partial', 'failed'])
      expect(body).toContain(`\\"${METRIC.jobsEnded}\\",\\"${DIMENSION.status}\\",\\"${status}\\"`);
    // One GPU-busy line per host of the pool, under the host id the workers emit (host:port).
    for (const host of ['gpu1.example.com', 'gpu2.example.com:8443']) {
      expect(body).toContain(`\\"${METRIC.gpuBusySeconds}\\",\\"${DIMENSION.host}\\",\\"${host}\\"`);
    }
    expect(body.match(/100 \* busy\d \/ 60/g)).toHaveLength(2);
    const single = JSON.stringify(
      Object.values(resources(plain.template, 'AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
    );
    expect(single.match(/100 \* busy\d \/ 60/g)).toHaveLength(1);
  });

  it('names the topic and the dashboard in the outputs', () => {
    const outputs = mailed.template.toJSON().Outputs as Record<string, unknown>;
    expect(outputs).toHaveProperty('AlarmTopicArn');
    expect(outputs).toHaveProperty('DashboardName');
  });
});
