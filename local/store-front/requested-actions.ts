import { JOBS_TABLE } from '../../adapters/jobs-table.ts';
import { isPresignParam } from './sigv4.ts';

/** One IAM authorization a request needs: what AWS evaluates against the caller's policies. */
export interface IamRequest {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

/** The partition, region and account the embedded stack stands for in ARNs. */
export const LOCAL_ACCOUNT = { partition: 'aws', region: 'us-east-1', accountId: '000000000000' } as const;

/** The state machine's name in the CDK app (its stack's name, then "-jobs"). */
const STATE_MACHINE_NAME = 'Sdbatch-jobs';
const statesArn = (kind: string, name: string) =>
  `arn:${LOCAL_ACCOUNT.partition}:states:${LOCAL_ACCOUNT.region}:${LOCAL_ACCOUNT.accountId}:${kind}:${name}`;
/** The ARNs a function's Step Functions calls name: the state machine, and an execution (a job). */
export const LOCAL_STATES_ARNS = {
  stateMachine: statesArn('stateMachine', STATE_MACHINE_NAME),
  execution: (jobId: string) => statesArn('execution', `${STATE_MACHINE_NAME}:${jobId}`),
};

const tableArn = (table: string) =>
  `arn:${LOCAL_ACCOUNT.partition}:dynamodb:${LOCAL_ACCOUNT.region}:${LOCAL_ACCOUNT.accountId}:table/${table}`;
export const bucketArn = (bucket: string) => `arn:${LOCAL_ACCOUNT.partition}:s3:::${bucket}`;

type AttributeValue = { S?: string; N?: string; B?: string };
type Item = Record<string, AttributeValue>;

/** The partition key's value of an item or key, as dynamodb:LeadingKeys lists it. */
const leadingKey = (item: Item | undefined): string[] => {
  const value = item?.[JOBS_TABLE.partitionKey];
  const scalar = value?.S ?? value?.N ?? value?.B;
  return scalar === undefined ? [] : [scalar];
};

/** The partition key a Query names: `<pk> = :v` in its key condition, names and values resolved. */
function queriedKey(body: Record<string, unknown>): string[] {
  const condition = String(body.KeyConditionExpression ?? '');
  const names = (body.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (body.ExpressionAttributeValues ?? {}) as Record<string, AttributeValue>;
  for (const m of condition.matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
    const name = m[1]?.startsWith('#') ? names[m[1]] : m[1];
    const index = body.IndexName ? undefined : JOBS_TABLE.partitionKey;
    if (name === index)
      return leadingKey({ [JOBS_TABLE.partitionKey]: values[m[2] as string] as AttributeValue });
  }
  return [];
}

const withKeys = (keys: string[]): Record<string, string[]> =>
  keys.length ? { 'dynamodb:LeadingKeys': keys } : {};

/** What a DynamoDB request asks IAM for: its action on each table or index it touches. */
export function dynamoDbRequests(target: string, body: Record<string, unknown>): IamRequest[] {
  const operation = target.split('.')[1] ?? '';
  const action = `dynamodb:${operation}`;
  const table = String(body.TableName ?? '');
  switch (operation) {
    case 'GetItem':
    case 'DeleteItem':
    case 'UpdateItem':
      return [{ action, resource: tableArn(table), context: withKeys(leadingKey(body.Key as Item)) }];
    case 'PutItem':
      return [{ action, resource: tableArn(table), context: withKeys(leadingKey(body.Item as Item)) }];
    case 'Query':
    case 'Scan': {
      const resource = body.IndexName ? `${tableArn(table)}/index/${body.IndexName}` : tableArn(table);
      return [{ action, resource, context: operation === 'Query' ? withKeys(queriedKey(body)) : {} }];
    }
    case 'BatchGetItem':
      return Object.entries((body.RequestItems ?? {}) as Record<string, { Keys?: Item[] }>).map(
        ([name, { Keys = [] }]) => ({
          action,
          resource: tableArn(name),
          context: withKeys(Keys.flatMap(leadingKey)),
        }),
      );
    case 'BatchWriteItem':
      return Object.entries(
        (body.RequestItems ?? {}) as Record<
          string,
          { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]
        >,
      ).map(([name, writes]) => ({
        action,
        resource: tableArn(name),
        context: withKeys(writes.flatMap((w) => leadingKey(w.PutRequest?.Item ?? w.DeleteRequest?.Key))),
      }));
    case 'TransactWriteItems':
    case 'TransactGetItems':
      return (
        (body.TransactItems ?? []) as Record<string, { TableName: string; Key?: Item; Item?: Item }>[]
      ).map((entry) => {
        const [kind, detail] = Object.entries(entry)[0] ?? ['', { TableName: '' }];
        const item = {
          ConditionCheck: 'ConditionCheckItem',
          Put: 'PutItem',
          Update: 'UpdateItem',
          Delete: 'DeleteItem',
          Get: 'GetItem',
        }[kind];
        return {
          action: `dynamodb:${item ?? kind}`,
          resource: tableArn(detail.TableName),
          context: withKeys(leadingKey(detail.Key ?? detail.Item)),
        };
      });
    default:
      return [{ action, resource: tableArn(table), context: {} }];
  }
}

/** A path-style S3 request's bucket and key (decoded). */
export function s3Target(path: string): { bucket: string; key?: string } {
  const [bucket = '', ...rest] = path.replace(/^\//, '').split('/');
  const key = rest.length ? decodeURIComponent(rest.join('/')) : undefined;
  return { bucket: decodeURIComponent(bucket), key: key === '' ? undefined : key };
}

/** What an S3 request (path-style, as the SDK sends it to a custom endpoint) asks IAM for. */
export function s3Requests(method: string, path: string, query: URLSearchParams, body: Buffer): IamRequest[] {
  const { bucket, key } = s3Target(path);
  const object = (action: string, k: string) => ({
    action,
    resource: `${bucketArn(bucket)}/${k}`,
    context: {},
  });
  const params = [...query.keys()].filter((name) => !isPresignParam(name));
  if (key !== undefined) {
    if (method === 'GET' || method === 'HEAD') return [object('s3:GetObject', key)];
    if (method === 'PUT' || method === 'POST') return [object('s3:PutObject', key)];
    if (method === 'DELETE') return [object('s3:DeleteObject', key)];
  } else if (method === 'POST' && query.has('delete')) {
    // DeleteObjects is authorized as s3:DeleteObject on each key it names.
    const keys = [...body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) =>
      unescapeXml(m[1] ?? ''),
    );
    return keys.map((k) => object('s3:DeleteObject', k));
  } else if ((method === 'GET' || method === 'HEAD') && params.every((p) => LIST_PARAMS.has(p))) {
    const context: Record<string, string> = {};
    for (const name of ['prefix', 'delimiter', 'max-keys']) {
      const value = query.get(name);
      if (value !== null) context[`s3:${name}`] = value;
    }
    return [{ action: 's3:ListBucket', resource: bucketArn(bucket), context }];
  }
  // Anything else (bucket configuration, versions, ACLs) the code never sends: name it so it is refused.
  return [{ action: `s3:${method}Bucket${params.join('')}`, resource: bucketArn(bucket), context: {} }];
}

const LIST_PARAMS = new Set([
  'list-type',
  'prefix',
  'delimiter',
  'max-keys',
  'continuation-token',
  'start-after',
  'encoding-type',
  'fetch-owner',
  'marker',
]);

const unescapeXml = (s: string) =>
  s.replace(/&(lt|gt|amp|quot|apos|#\d+);/g, (_, e: string) =>
    e.startsWith('#')
      ? String.fromCharCode(Number(e.slice(1)))
      : (({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[e] ?? ''),
  );
