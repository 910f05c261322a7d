import { GatewayHttpError } from '../auth-failure.ts';
import type { Connection } from '../connection.ts';
import type { Output } from '../output.ts';

/** `sdbatch token create NAME | list | revoke NAME`: the gateway's admin routes, with the admin token. */
export async function tokenCommand(args: string[], connection: Connection, out: Output): Promise<number> {
  const [action, name] = args;
  const base = new URL('/admin/tokens', connection.url);
  const call = async (method: string, url: URL, body?: unknown) => {
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${connection.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) throw new GatewayHttpError(response.status, json, response.statusText);
    return json;
  };

  if (action === 'create' && name) {
    const created = await call('POST', base, { name });
    out.result(created, `Token for "${created.name}" (shown once, store it now):\n${created.token}`);
    return 0;
  }
  if (action === 'list') {
    const { tokens } = (await call('GET', base)) as { tokens: Array<Record<string, string | null>> };
    const lines = tokens.map(
      (t) => `${t.name}\t${t.revoked_at ? `revoked ${t.revoked_at}` : 'live'}\tcreated ${t.created_at}`,
    );
    out.result({ tokens }, lines.length > 0 ? lines.join('\n') : 'No named tokens.');
    return 0;
  }
  if (action === 'revoke' && name) {
    const revoked = await call('DELETE', new URL(encodeURIComponent(name), `${base}/`));
    out.result(revoked, `Revoked "${name}".`);
    return 0;
  }
  out.error('usage: sdbatch token create NAME | token list | token revoke NAME');
  return 2;
}
