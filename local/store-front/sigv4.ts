import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';
import { StoreDenied } from './store-denied.ts';

/** An incoming request as the front read it: the raw path and query, lower-cased headers, the whole body. */
export interface SignedRequest {
  method: string;
  /** The path exactly as sent (still percent-encoded). */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
}

export interface Signer {
  accessKeyId: string;
  region: string;
  service: string;
}

/** AWS refuses a header-signed request dated more than 15 minutes from its clock. */
const MAX_SKEW_MS = 15 * 60_000;
/** A presigned URL lives at most 7 days. */
const MAX_PRESIGN_SECONDS = 604_800;

/** SHA-256, or HMAC-SHA-256 when given a secret: the checksum the SDK's signer is built with. */
class NodeSha256 implements Checksum {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret ? createHmac('sha256', toBuffer(secret)) : createHash('sha256');
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    throw new Error('not used by the signer');
  }
}

const toBuffer = (data: SourceData): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** `20261207T194600Z` → Date. */
function amzDate(value: string | undefined | null): Date | undefined {
  const m = value?.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
}

interface Parsed {
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  date: Date;
  /** Presigned URLs only. */
  expiresIn?: number;
}

const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
];

/** The query parameters a presigned URL adds; the rest of the query is what was signed. */
export const isPresignParam = (name: string): boolean => PRESIGN_PARAMS.includes(name);

function parseCredential(credential: string) {
  const [accessKeyId, scopeDate, region, service, terminator, ...rest] = credential.split('/');
  if (!accessKeyId || !scopeDate || !region || !service || terminator !== 'aws4_request' || rest.length) {
    return undefined;
  }
  return { accessKeyId, scopeDate, region, service };
}

function parse(request: SignedRequest, service: string): Parsed {
  const q = request.query;
  if (q.has('X-Amz-Signature')) {
    if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
      throw new StoreDenied(
        service,
        'AuthorizationQueryParametersError',
        'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
      );
    }
    const credential = parseCredential(q.get('X-Amz-Credential') ?? '');
    const date = amzDate(q.get('X-Amz-Date'));
    const expiresIn = Number(q.get('X-Amz-Expires'));
    if (
      !credential ||
      !date ||
      !Number.isInteger(expiresIn) ||
      expiresIn < 1 ||
      expiresIn > MAX_PRESIGN_SECONDS
    ) {
      throw new StoreDenied(service, 'AuthorizationQueryParametersError', 'Invalid presigned URL parameters');
    }
    return {
      ...credential,
      signedHeaders: (q.get('X-Amz-SignedHeaders') ?? '').split(';').filter(Boolean),
      signature: q.get('X-Amz-Signature') ?? '',
      date,
      expiresIn,
    };
  }
  const authorization = request.headers.authorization;
  if (!authorization) {
    throw new StoreDenied(
      service,
      service === 's3' ? 'AccessDenied' : 'MissingAuthenticationTokenException',
      service === 's3' ? 'Access Denied' : 'Request is missing Authentication Token',
    );
  }
  const m = authorization.match(
    /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/,
  );
  const credential = m && parseCredential(m[1] as string);
  const date = amzDate(request.headers['x-amz-date']);
  if (!m || !credential || !date) {
    throw new StoreDenied(
      service,
      service === 's3' ? 'AuthorizationHeaderMalformed' : 'IncompleteSignatureException',
      'The authorization header is malformed',
    );
  }
  return { ...credential, signedHeaders: (m[2] as string).split(';'), signature: m[3] as string, date };
}

const same = (a: string, b: string): boolean =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Checks a request's Signature Version 4 as AWS does: the signature recomputed with the secret of
 * its access key by the SDK's own signer over exactly the headers it says it signed, its scope
 * (date, region, service), its age (15 minutes for a signed request; a presigned URL's own
 * expiry), and for S3 the body against the hash it declared. Throws StoreDenied, named and worded
 * as the service would answer.
 */
export async function verifySignature(
  request: SignedRequest,
  expected: { service: string; region: string },
  secretOf: (accessKeyId: string) => string | undefined,
  now: number,
): Promise<Signer> {
  const { service, region } = expected;
  const p = parse(request, service);
  const secret = secretOf(p.accessKeyId);
  if (secret === undefined) {
    throw service === 's3'
      ? new StoreDenied(
          service,
          'InvalidAccessKeyId',
          'The AWS Access Key Id you provided does not exist in our records.',
        )
      : new StoreDenied(
          service,
          'UnrecognizedClientException',
          'The security token included in the request is invalid.',
        );
  }
  const dateStamp = p.date.toISOString().slice(0, 10).replaceAll('-', '');
  if (p.scopeDate !== dateStamp || p.region !== region || p.service !== service) {
    throw new StoreDenied(
      service,
      service === 's3' ? 'AuthorizationHeaderMalformed' : 'InvalidSignatureException',
      `Credential should be scoped to a valid date, region ${region} and service ${service}`,
    );
  }
  if (p.expiresIn === undefined && Math.abs(now - p.date.getTime()) > MAX_SKEW_MS) {
    throw new StoreDenied(
      service,
      service === 's3' ? 'RequestTimeTooSkewed' : 'InvalidSignatureException',
      'The difference between the request time and the current time is too large.',
    );
  }
  if (p.expiresIn !== undefined && now > p.date.getTime() + p.expiresIn * 1000) {
    throw new StoreDenied(service, 'AccessDenied', 'Request has expired');
  }
  if (!p.signedHeaders.includes('host')) {
    throw new StoreDenied(service, 'AccessDenied', 'The host header must be signed');
  }

  const declaredHash = request.headers['x-amz-content-sha256'];
  if (service === 's3' && declaredHash && /^[0-9a-f]{64}$/.test(declaredHash)) {
    const actual = createHash('sha256').update(request.body).digest('hex');
    if (actual !== declaredHash) {
      throw new StoreDenied(
        service,
        'XAmzContentSHA256Mismatch',
        'The provided x-amz-content-sha256 header does not match what was computed.',
      );
    }
  }

  const headers: Record<string, string> = {};
  for (const name of p.signedHeaders) {
    const value = request.headers[name];
    if (value === undefined)
      throw new StoreDenied(service, 'AccessDenied', `Signed header ${name} is missing`);
    headers[name] = value;
  }
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of request.query) {
    if (p.expiresIn !== undefined && isPresignParam(name)) continue;
    const had = query[name];
    query[name] = had === undefined ? value : [had, value].flat();
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: p.accessKeyId, secretAccessKey: secret },
    region,
    service,
    sha256: NodeSha256,
    // S3 signs the path as sent; the other services sign it escaped once more.
    uriEscapePath: service !== 's3',
    // Only a hash header the client signed is part of the signature.
    applyChecksum: false,
  });
  const unsigned = {
    method: request.method,
    protocol: 'http:',
    hostname: headers.host ?? '',
    path: request.path,
    query,
    // A presigned URL's payload is always UNSIGNED-PAYLOAD: given to the signer, not signed.
    headers: p.expiresIn === undefined ? headers : { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    body: p.expiresIn === undefined ? request.body : undefined,
  };
  const signature =
    p.expiresIn === undefined
      ? ((await signer.sign(unsigned, { signingDate: p.date })).headers.authorization?.match(
          /Signature=([0-9a-f]{64})/,
        )?.[1] ?? '')
      : String(
          (
            await signer.presign(unsigned, {
              signingDate: p.date,
              expiresIn: p.expiresIn,
              unsignableHeaders: new Set(['x-amz-content-sha256']),
              unhoistableHeaders: new Set([...Object.keys(headers), 'x-amz-content-sha256']),
            })
          ).query?.['X-Amz-Signature'] ?? '',
        );
  if (!same(signature, p.signature)) {
    throw service === 's3'
      ? new StoreDenied(
          service,
          'SignatureDoesNotMatch',
          'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        )
      : new StoreDenied(
          service,
          'InvalidSignatureException',
          'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
        );
  }
  return { accessKeyId: p.accessKeyId, region, service };
}
