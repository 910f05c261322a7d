import { Duration, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.ts';
import { type FunctionStateName, SHARES_FUNCTION_OF, type TaskStateName } from '../../workflow/definition.ts';
import { FUNCTION_SIZING } from '../../workflow/function-sizing.ts';
import type { GpuConnection } from './gpu-connection.ts';
import type { ImagesBucket } from './images-bucket.ts';
import type { JobsTable } from './jobs-table.ts';
import { NodeFunction, type UnbundledPackages } from './node-function.ts';

interface TaskSizing {
  id: string;
  entry: string;
  unbundled?: UnbundledPackages;
}

/**
 * sharp with its WebAssembly build and what that loads at run time. The WebAssembly build runs on
 * any CPU, so the asset is the same whatever machine deploys it (a native build would be the
 * deploying machine's: a Mac's would not load on Lambda). It draws a sheet about 1.5x slower
 * than the native build and needs more memory; the sheet function has plenty of both.
 */
export const SHARP: UnbundledPackages = {
  external: ['sharp'],
  copied: ['sharp', '@img/colour', '@img/sharp-wasm32', 'tslib', 'detect-libc', 'semver'],
};

/** Each task's entry; its memory and time-out are FUNCTION_SIZING's (workflow/function-sizing.ts). */
const TASKS: Record<FunctionStateName, TaskSizing> = {
  'Generate images': { id: 'GenerateImages', entry: 'lambdas/entry/generate-images.ts' },
  'Wait for a GPU slot': { id: 'WaitForSlot', entry: 'lambdas/entry/wait-for-slot.ts' },
  'Record failed iterations': {
    id: 'RecordFailedIteration',
    entry: 'lambdas/entry/record-failed-iteration.ts',
  },
  'Render contact sheet': {
    id: 'RenderContactSheet',
    entry: 'lambdas/entry/render-contact-sheet.ts',
    unbundled: SHARP,
  },
  'Finalize job': { id: 'FinalizeJob', entry: 'lambdas/entry/finalize-job.ts' },
};

export interface WorkflowTasksProps {
  table: JobsTable;
  images: ImagesBucket;
  gpu: GpuConnection;
  /** The generate task's memory (MB), when the deployment sets one; FUNCTION_SIZING's otherwise. */
  generateMemoryMb?: number;
}

/** The Task states' functions, each with its own role: table items for all, images and the GPU host for one. */
export class WorkflowTasks extends Construct {
  readonly byState: Record<TaskStateName, NodeFunction>;

  constructor(scope: Construct, id: string, props: WorkflowTasksProps) {
    super(scope, id);
    const make = (state: FunctionStateName) => {
      const { id: taskId, ...task } = TASKS[state];
      const { memoryMb, timeoutSeconds } = FUNCTION_SIZING[state];
      const memorySize = (state === 'Generate images' && props.generateMemoryMb) || memoryMb;
      return new NodeFunction(this, taskId, {
        ...task,
        memorySize,
        timeout: Duration.seconds(timeoutSeconds),
        description: `sdbatch Step Functions task "${state}"`,
        placement: state === 'Generate images' ? props.gpu.placement : undefined,
      });
    };
    const own: Record<FunctionStateName, NodeFunction> = {
      'Generate images': make('Generate images'),
      'Wait for a GPU slot': make('Wait for a GPU slot'),
      'Record failed iterations': make('Record failed iterations'),
      'Render contact sheet': make('Render contact sheet'),
      'Finalize job': make('Finalize job'),
    };
    this.byState = { ...own, 'Wait for the GPU pool': own[SHARES_FUNCTION_OF['Wait for the GPU pool']] };

    // SendTaskSuccess has no resource types (the Service Authorization Reference lists none): a
    // statement naming the state machine would never grant it, and AWS would refuse every wake-up. Only "*" does; the task token itself names the task.
    const answerTasks = (fn: NodeFunction) => {
      fn.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['states:SendTaskSuccess'],
          resources: ['*'],
        }),
      );
      Validations.of(fn.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray PutTraceSegments and PutTelemetryRecords, and Step Functions SendTaskSuccess, do not support resource-level permissions.',
      });
    };
    for (const [state, fn] of Object.entries(own)) {
      props.table.bindWorker(fn);
      if (state === 'Generate images') {
        props.images.bindWriter(fn);
        props.gpu.bindGenerator(fn);
        // Freeing a slot wakes the next in line.
        answerTasks(fn);
      } else if (state === 'Wait for a GPU slot') {
        fn.addEnvironment(ENV.bucketName, props.images.bucket.bucketName);
        props.gpu.bindHostUrl(fn);
        // A slot freed while the runner got to its wait: it wakes itself.
        answerTasks(fn);
      } else if (state === 'Render contact sheet') {
        props.images.bindSheetRenderer(fn);
        props.gpu.bindHostUrl(fn);
      } else {
        // The workers share one config loader, which names the bucket and host; these three
        // never use them, and their roles grant neither (nor do they run in the VPC).
        fn.addEnvironment(ENV.bucketName, props.images.bucket.bucketName);
        props.gpu.bindHostUrl(fn);
      }
    }
  }
}
