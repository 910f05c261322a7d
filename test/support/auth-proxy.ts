import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AuthProxy {
  url: string;
  /** Every JSON body the client sent through, in order. */
  bodies: unknown[];
  close(): Promise<void>;
}

/**
 * A loopback port forwarder that adds a bearer token, for clients that cannot send one (the MCP
 * conformance CLI). Host and Origin keep the names the client sent, with this port swapped for
 * the target's, so the gateway still judges a rebinding Host or a foreign Origin itself.
 */
export async function startAuthProxy(target: string, token: string): Promise<AuthProxy> {
  const upstream = new URL(target);
  let ownPort = 0;
  const bodies: unknown[] = [];
  const swapPort = (value: string | undefined) =>
    value?.replace(new RegExp(`:${ownPort}$`), `:${upstream.port}`);

  const server: Server = createServer((incoming, outgoing) => {
    const headers = { ...incoming.headers, authorization: `Bearer ${token}` };
    headers.host = swapPort(incoming.headers.host);
    if (incoming.headers.origin) headers.origin = swapPort(incoming.headers.origin);
    const forwarded = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end();
    });
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      try {
        if (chunks.length > 0) bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        // Not JSON: nothing to record.
      }
    });
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ownPort = (server.address() as AddressInfo).port;
  const url = new URL(upstream.pathname, `http://localhost:${ownPort}`).toString();
  return {
    url,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
