import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  type CfnStateMachine,
  DefinitionBody,
  LogLevel,
  StateMachine,
  StateMachineType,
} from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.ts';
import {
  type FunctionArnVariable,
  readDefinitionText,
  TASK_FUNCTIONS,
  type TaskStateName,
} from '../../workflow/definition.ts';
import type { NodeFunction } from './node-function.ts';

export interface WorkflowProps {
  tasks: Record<TaskStateName, NodeFunction>;
  /** Fixed, so the functions that answer its callback tasks can name it without a reference loop. */
  stateMachineName: string;
}

/**
 * The Standard state machine built from definition.asl.json, the file the embedded stack runs:
 * only the `${…FunctionArn}` placeholders differ. Every execution is logged and traced.
 */
export class Workflow extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const functions = Object.entries(props.tasks) as [TaskStateName, NodeFunction][];
    const substitutions = Object.fromEntries(
      functions.map(([state, task]) => [TASK_FUNCTIONS[state], task.fn.functionArn]),
    ) as Record<FunctionArnVariable, string>;

    const logGroup = new LogGroup(this, 'Logs', {
      // The prefix Step Functions recommends: it keeps the account's log resource policy small.
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-jobs`,
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      // Standard: exactly-once state transitions and runs of up to a year (Express stops at 5 min).
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(readDefinitionText()),
      definitionSubstitutions: substitutions,
      // ALL with execution data: states carry identifiers only (job id, iteration), never images.
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    // Task states name the function ARN itself: invoke exactly those, unqualified, nothing else.
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        // (Both waits invoke one function: each ARN once.)
        resources: [...new Set(functions.map(([, t]) => t.fn))].map((fn) => fn.functionArn),
      }),
    );
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Set by CDK for logging and tracing: the CloudWatch Logs delivery actions (logs:CreateLogDelivery etc.) ' +
        'and X-Ray PutTraceSegments do not support resource-level permissions.',
    });
  }

  /** The gateway starts a job's execution and stops it on cancel; it cannot touch anything else. */
  bindStarter(fn: NodeFunction): void {
    this.stateMachine.grantStartExecution(fn.role);
    this.stateMachine.grantExecution(fn.role, 'states:StopExecution', 'states:DescribeExecution');
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${this.logicalId()}"}]}]}:*]`,
      reason:
        "Executions are named after job ids made at run time; the wildcard is this state machine's executions only.",
    });
    fn.addEnvironment(ENV.stateMachineArn, this.stateMachine.stateMachineArn);
  }

  /** cdk-nag names a finding after the resolved logical id, so the acknowledgement must too. */
  private logicalId(): string {
    const stack = Stack.of(this);
    return stack.resolve(
      stack.getLogicalId(this.stateMachine.node.defaultChild as CfnStateMachine),
    ) as string;
  }
}
