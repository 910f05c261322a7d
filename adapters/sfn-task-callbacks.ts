import { AwsClient } from 'aws4fetch';
import { TaskGoneError } from '../core/errors.ts';
import type { TaskCallbacks } from '../core/ports.ts';

/** What Step Functions answers for a token whose task no longer waits (or never did). */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

export interface SfnEndpoint {
  region: string;
  /** https://states.<region>.amazonaws.com unless given (another partition, a test server). */
  url?: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * Step Functions' SendTaskSuccess for the two waits' callback tasks: a signed JSON request. Sent with aws4fetch rather than @aws-sdk/client-sfn, whose code in the
 * generate function's bundle raised its peak memory for the largest SD WebUI answer by 10-15 MiB
 * (measured by the bench's bundled probe) of the 256 MB it has.
 */
export class SfnTaskCallbacks implements TaskCallbacks {
  private readonly aws: AwsClient;
  private readonly url: string;

  constructor(endpoint: SfnEndpoint) {
    this.aws = new AwsClient({ ...endpoint.credentials, region: endpoint.region, service: 'states' });
    this.url = endpoint.url ?? `https://states.${endpoint.region}.amazonaws.com/`;
  }

  succeed(token: string, output: Record<string, unknown>): Promise<void> {
    return this.send('SendTaskSuccess', { taskToken: token, output: JSON.stringify(output) });
  }

  private async send(action: string, body: Record<string, string>): Promise<void> {
    const response = await this.aws.fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `AWSStepFunctions.${action}`,
      },
      body: JSON.stringify(body),
    });
    if (response.ok) return;
    const text = await response.text();
    // AWS JSON protocol errors name their type in __type ("...#TaskTimedOut") or the x-amzn-errortype header.
    let type = response.headers.get('x-amzn-errortype') ?? '';
    try {
      type ||= String((JSON.parse(text) as { __type?: string }).__type ?? '');
    } catch {
      // Not JSON: the status says what there is to say.
    }
    const name = type.split('#').pop()?.split(':')[0] ?? '';
    const message = `Step Functions ${action} answered ${response.status}${name ? ` ${name}` : ''}: ${text.slice(0, 300)}`;
    if (GONE.has(name)) throw new TaskGoneError(message);
    throw new Error(message);
  }
}
