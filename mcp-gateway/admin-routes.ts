import { Hono } from 'hono';
import { TokenName, type TokenStore } from '../core/tokens.ts';
import { newToken, tokenHash } from './auth/bearer.ts';
import type { AuthEnv } from './auth/middleware.ts';

/** Named tokens, managed with the deployment's bootstrap token (the `sdbatch token` CLI calls these). */
export function adminRoutes(tokens: TokenStore, now: () => Date): Hono<AuthEnv> {
  const admin = new Hono<AuthEnv>();
  admin.use('*', async (c, next) => {
    if (!c.get('caller').admin)
      return c.json(
        { error: 'forbidden', error_description: 'Only the admin token may manage tokens.' },
        403,
      );
    return next();
  });

  admin.get('/tokens', async (c) => {
    const list = await tokens.list();
    return c.json({
      tokens: list.map(({ name, created_at, revoked_at }) => ({
        name,
        created_at,
        revoked_at: revoked_at ?? null,
      })),
    });
  });

  admin.post('/tokens', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { name?: unknown };
    const name = TokenName.safeParse(body.name);
    if (!name.success) return c.json({ error: `name: ${name.error.issues[0]?.message}` }, 400);
    const token = newToken();
    const created = await tokens.create({
      name: name.data,
      hash: tokenHash(token),
      created_at: now().toISOString(),
    });
    if (!created)
      return c.json({ error: `name: a live token named "${name.data}" exists; revoke it first` }, 409);
    // The only time the token is ever shown: only its digest is stored.
    return c.json({ name: name.data, token }, 201);
  });

  admin.delete('/tokens/:name', async (c) => {
    const name = c.req.param('name');
    const revoked = await tokens.revoke(name, now().toISOString());
    if (!revoked) return c.json({ error: `no live token named "${name}"` }, 404);
    return c.json({ name, revoked: true });
  });
  return admin;
}
