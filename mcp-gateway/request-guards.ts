import type { MiddlewareHandler } from 'hono';

export interface GuardOptions {
  /** Host header values accepted (DNS-rebinding defence for the local server); undefined = any. */
  allowedHosts?: string[];
  /**
   * Browser origins accepted; undefined = any (the remote gateway, where the bearer token is the
   * gate). Requests without Origin (CLI clients, servers) always pass.
   */
  allowedOrigins?: string[];
}

/** Refuses requests whose Host or Origin is not ours before anything else looks at them. */
export function hostAndOriginGuard(options: GuardOptions): MiddlewareHandler {
  return async (c, next) => {
    const host = c.req.header('host');
    if (options.allowedHosts && (!host || !options.allowedHosts.includes(host.toLowerCase()))) {
      return c.json({ error: 'forbidden host' }, 403);
    }
    const origin = c.req.header('origin');
    if (origin && options.allowedOrigins && !options.allowedOrigins.includes(origin)) {
      return c.json({ error: 'forbidden origin' }, 403);
    }
    await next();
  };
}

/** Deepest nesting of arrays and objects in a JSON value, counted without recursion. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    deepest = Math.max(deepest, depth);
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}
