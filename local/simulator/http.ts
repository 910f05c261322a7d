import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, gzipSync } from 'node:zlib';

const MAX_BODY = 256 * 1024 * 1024;
const GZIP_MIN = 1000; // Starlette's GZipMiddleware minimum_size, as A1111 configures it

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size > MAX_BODY) req.destroy(new Error('request body too large'));
      else parts.push(part);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/** JSON with A1111's middleware touches: gzip above 1000 bytes when accepted, X-Process-Time in seconds. */
export function encodeJson(req: IncomingMessage, startedAt: number, text: string) {
  let data = Buffer.from(text, 'utf8');
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'x-process-time': ((performance.now() - startedAt) / 1000).toFixed(4),
  };
  if (data.length >= GZIP_MIN && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
    data = gzipSync(data, { level: constants.Z_BEST_SPEED });
    headers['content-encoding'] = 'gzip';
    headers.vary = 'Accept-Encoding';
  }
  headers['content-length'] = data.length;
  return { headers, data };
}

/** Sends text labelled as JSON (a fault may pass text that is not). */
export function sendText(
  req: IncomingMessage,
  res: ServerResponse,
  startedAt: number,
  status: number,
  text: string,
) {
  if (res.destroyed || res.headersSent) return;
  const { headers, data } = encodeJson(req, startedAt, text);
  res.writeHead(status, headers).end(data);
}

export function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  startedAt: number,
  status: number,
  body: unknown,
) {
  sendText(req, res, startedAt, status, JSON.stringify(body));
}

/** Sends the headers and half the body of a 200, then destroys the socket. */
export function sendHalfThenDrop(
  req: IncomingMessage,
  res: ServerResponse,
  startedAt: number,
  body: unknown,
) {
  if (res.destroyed || res.headersSent) return;
  const { headers, data } = encodeJson(req, startedAt, JSON.stringify(body));
  res.writeHead(200, headers);
  res.write(data.subarray(0, data.length >> 1), () => res.destroy());
}
