import { randomUUID } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { STACK_ROLE, type StoreRole } from '../../lambdas/function-roles.ts';
import type { RoleCredentials } from '../store-credentials.ts';
import {
  bucketArn,
  dynamoDbRequests,
  type IamRequest,
  LOCAL_ACCOUNT,
  s3Requests,
  s3Target,
} from './requested-actions.ts';
import { isPresignParam, type SignedRequest, verifySignature } from './sigv4.ts';
import { StoreDenied } from './store-denied.ts';

/** Decides one IAM request of a function role, as AWS evaluates that role's policies. */
export type Authorize = (
  role: Exclude<StoreRole, typeof STACK_ROLE>,
  request: IamRequest,
) => Promise<boolean>;

export interface StoreFrontOptions {
  credentials: RoleCredentials;
  /** Evaluates each request against its role's policies; without it, any signed request passes. */
  authorize?: Authorize;
  now?: () => number;
  /** The ports to listen on (a restarted front takes its predecessor's); 0 or none: free ones. */
  ports?: Record<keyof Upstreams, number>;
}

/** Where the emulators listen: Unix sockets in a folder only this user can enter. */
export interface Upstreams {
  dynamodb: string;
  s3: string;
}

export interface StoreFront {
  dynamoDbEndpoint: string;
  s3Endpoint: string;
  close(): Promise<void>;
}

/** DynamoDB takes at most 16 MB a request; this bucket's objects are images of a few MB. */
const MAX_BODY = { dynamodb: 16 * 1024 * 1024, s3: 64 * 1024 * 1024 };

/**
 * The embedded stores' only door, as AWS's endpoints are: every request must be signed (SigV4, in
 * its header or as a presigned URL) with the keys of one of this stack's roles, and with an
 * authorizer each is then evaluated as that role's IAM policy would be. Only then is it passed to
 * dynalite or s3rver, which listen on Unix sockets nobody else can open.
 */
export async function startStoreFront(upstreams: Upstreams, options: StoreFrontOptions): Promise<StoreFront> {
  const roleOf = new Map<string, { role: StoreRole; secret: string }>(
    Object.entries(options.credentials).map(([role, c]) => [
      c.accessKeyId,
      { role: role as StoreRole, secret: c.secretAccessKey },
    ]),
  );
  const now = options.now ?? Date.now;
  const servers = await Promise.all(
    (['dynamodb', 's3'] as const).map((service) =>
      listen(
        options.ports?.[service] ?? 0,
        createServer((req, res) => {
          handle(service, req, res).catch((error) => {
            const denied =
              error instanceof StoreDenied ? error : new StoreDenied(service, 'InternalError', String(error));
            reply(res, denied);
          });
        }),
      ),
    ),
  );

  async function allowed(role: StoreRole, requests: IamRequest[], service: string): Promise<void> {
    if (!options.authorize || role === STACK_ROLE) return;
    for (const request of requests) {
      if (await options.authorize(role, request)) continue;
      const who = `arn:${LOCAL_ACCOUNT.partition}:sts::${LOCAL_ACCOUNT.accountId}:assumed-role/${role}/sdbatch`;
      throw service === 's3'
        ? new StoreDenied(service, 'AccessDenied', 'Access Denied')
        : new StoreDenied(
            service,
            'AccessDeniedException',
            `User: ${who} is not authorized to perform: ${request.action} on resource: ${request.resource} because no identity-based policy allows the ${request.action} action`,
          );
    }
  }

  async function handle(service: 'dynamodb' | 's3', req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://front');
    const body = await readBody(req, MAX_BODY[service], service);
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v ?? '')]),
    );
    const signed: SignedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers,
      body,
    };
    const signer = await verifySignature(
      signed,
      { service, region: LOCAL_ACCOUNT.region },
      (id) => roleOf.get(id)?.secret,
      now(),
    );
    const role = roleOf.get(signer.accessKeyId)?.role as StoreRole;
    if (service === 'dynamodb') {
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(body.toString('utf8') || '{}');
      } catch {
        // dynalite answers a body it cannot parse with its own error.
      }
      await allowed(role, dynamoDbRequests(headers['x-amz-target'] ?? '', parsed), service);
      return forward(upstreams.dynamodb, signed, url.search, headers, body, res);
    }
    await allowed(role, s3Requests(signed.method, url.pathname, url.searchParams, body), service);
    // S3 answers a missing object 403, not 404, to a caller that may not list the bucket.
    const { bucket, key } = s3Target(url.pathname);
    const hidesMissing =
      options.authorize &&
      role !== STACK_ROLE &&
      key !== undefined &&
      (signed.method === 'GET' || signed.method === 'HEAD') &&
      !(await options.authorize(role, { action: 's3:ListBucket', resource: bucketArn(bucket), context: {} }));
    // s3rver checks signatures against its own fixed keys: it gets the request unsigned.
    const query = [...url.searchParams].filter(
      ([name]) => !isPresignParam(name) && name !== 'X-Amz-Security-Token',
    );
    const search = query.length ? `?${new URLSearchParams(query)}` : '';
    const { authorization: _, ...unsigned } = headers;
    return forward(
      upstreams.s3,
      signed,
      search,
      unsigned,
      body,
      res,
      hidesMissing ? 'AccessDenied' : undefined,
    );
  }

  return {
    dynamoDbEndpoint: endpoint(servers[0] as Server),
    s3Endpoint: endpoint(servers[1] as Server),
    close: async () => {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}

function forward(
  socketPath: string,
  signed: SignedRequest,
  search: string,
  headers: Record<string, string>,
  body: Buffer,
  res: ServerResponse,
  missingAs?: 'AccessDenied',
): Promise<void> {
  return new Promise((resolve, reject) => {
    const upstream = httpRequest(
      {
        socketPath,
        method: signed.method,
        path: `${signed.path}${search}`,
        headers: { ...headers, 'content-length': String(body.length) },
      },
      (answer) => {
        if (missingAs && answer.statusCode === 404) {
          answer.resume();
          reply(res, new StoreDenied('s3', missingAs, 'Access Denied'), signed.method === 'HEAD');
          resolve();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', resolve);
        answer.on('error', reject);
      },
    );
    upstream.on('error', reject);
    upstream.end(body);
  });
}

function reply(res: ServerResponse, denied: StoreDenied, headOnly = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const requestId = randomUUID();
  const { status, contentType, body } = denied.response(requestId);
  res.writeHead(status, {
    'content-type': contentType,
    'x-amzn-requestid': requestId,
    'x-amz-request-id': requestId,
  });
  res.end(headOnly ? undefined : body);
}

async function readBody(req: IncomingMessage, limit: number, service: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      throw new StoreDenied(
        service,
        service === 's3' ? 'EntityTooLarge' : 'RequestEntityTooLarge',
        `The request is larger than ${limit} bytes`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const listen = (port: number, server: Server) =>
  new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

const endpoint = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
