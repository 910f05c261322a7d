import { Duration, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.ts';
import type { TaskStateName } from '../../workflow/definition.ts';
import type { GpuConnection } from './gpu-connection.ts';
import type { ImagesBucket } from './images-bucket.ts';
import type { JobsTable } from './jobs-table.ts';
import { NodeFunction, type UnbundledPackages } from './node-function.ts';

interface TaskSizing {
  id: string;
  entry: string;
  memorySize: number;
  timeout: Duration;
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

/**
 * Memory and time-out per task. Each function's time-out is below its state's TimeoutSeconds
 * (definition.asl.json), so a stuck call ends as the function's own error, not a state time-out.
 */
const SIZING: Record<TaskStateName, TaskSizing> = {
  // Waits for the GPU for most of its life (the state allows 900 s; a run pauses before a call
  // could outlive that), so its memory is billed for GPU time: keep it small. SD WebUI's answer is
  // read as a stream, one base64 image at a time, so the peak is the bundle (~85 MiB) plus one
  // call's PNG bytes (up to ~56 MiB for 8 at 2048x2048) and the chunks not yet collected, which
  // the young generation sized to the function (function-runtime.ts) keeps few: `npm run bench`
  // measures the largest answer's peak.
  'Generate images': {
    id: 'GenerateImages',
    entry: 'lambdas/entry/generate-images.ts',
    memorySize: 256,
    timeout: Duration.seconds(900),
  },
  // Called by the callback task with its token: a GetItem, the queue write, one pool read and
  // maybe one SendTaskSuccess, then it returns; the wait itself bills nothing.
  'Wait for a GPU slot': {
    id: 'WaitForSlot',
    entry: 'lambdas/entry/wait-for-slot.ts',
    memorySize: 256,
    timeout: Duration.seconds(30),
  },
  // A GetItem, then a PutItem and an UpdateItem per iteration the runner left (100 at most).
  'Record failed iterations': {
    id: 'RecordFailedIteration',
    entry: 'lambdas/entry/record-failed-iteration.ts',
    memorySize: 256,
    timeout: Duration.seconds(30),
  },
  // sharp thumbnails up to 800 images, eight at a time, keeping only the thumbnails: 1 GB gives
  // libvips room and CPU; 280 s stays below the state's 300 s.
  'Render contact sheet': {
    id: 'RenderContactSheet',
    entry: 'lambdas/entry/render-contact-sheet.ts',
    memorySize: 1024,
    timeout: Duration.seconds(280),
    unbundled: SHARP,
  },
  'Finalize job': {
    id: 'FinalizeJob',
    entry: 'lambdas/entry/finalize-job.ts',
    memorySize: 256,
    timeout: Duration.seconds(30),
  },
};

export interface WorkflowTasksProps {
  table: JobsTable;
  images: ImagesBucket;
  gpu: GpuConnection;
  /** The generate task's memory (MB), when the deployment sets one; SIZING's otherwise. */
  generateMemoryMb?: number;
}

/** The Task states' functions, each with its own role: table items for all, images and the GPU host for one. */
export class WorkflowTasks extends Construct {
  readonly byState: Record<TaskStateName, NodeFunction>;

  constructor(scope: Construct, id: string, props: WorkflowTasksProps) {
    super(scope, id);
    const make = (state: TaskStateName) => {
      const { id: taskId, ...sizing } = SIZING[state];
      const memorySize = (state === 'Generate images' && props.generateMemoryMb) || sizing.memorySize;
      return new NodeFunction(this, taskId, {
        ...sizing,
        memorySize,
        description: `sdbatch Step Functions task "${state}"`,
        placement: state === 'Generate images' ? props.gpu.placement : undefined,
      });
    };
    this.byState = {
      'Generate images': make('Generate images'),
      'Wait for a GPU slot': make('Wait for a GPU slot'),
      'Record failed iterations': make('Record failed iterations'),
      'Render contact sheet': make('Render contact sheet'),
      'Finalize job': make('Finalize job'),
    };

    // SendTaskSuccess and SendTaskHeartbeat have no resource types (the Service Authorization
    // Reference lists none): a statement naming the state machine would never grant them, and
    // AWS would refuse every wake-up. Only "*" does; the task token itself names the task.
    const answerTasks = (fn: NodeFunction) => {
      fn.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['states:SendTaskSuccess', 'states:SendTaskHeartbeat'],
          resources: ['*'],
        }),
      );
      Validations.of(fn.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray PutTraceSegments and PutTelemetryRecords, and Step Functions SendTaskSuccess and SendTaskHeartbeat, do not support resource-level permissions.',
      });
    };
    for (const [state, fn] of Object.entries(this.byState)) {
      props.table.bindWorker(fn);
      if (state === 'Generate images') {
        props.images.bindWriter(fn);
        props.gpu.bindGenerator(fn);
        // Freeing a slot wakes the next waiting runner; live runners send the waiters heartbeats.
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
