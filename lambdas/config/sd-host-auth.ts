import { z } from 'zod';

/**
 * The optional GPU host credentials secret: HTTP Basic for SD WebUI's `--api-auth user:pass`,
 * and/or extra headers, e.g. a Cloudflare Access service token's CF-Access-Client-Id/-Secret.
 */
const SdHostAuth = z
  .object({
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    headers: z.record(z.string().min(1), z.string()).optional(),
  })
  .refine((auth) => (auth.username === undefined) === (auth.password === undefined), {
    message: 'username and password go together',
  })
  .refine((auth) => auth.username !== undefined || auth.headers !== undefined, {
    message: 'expected {"username","password"} and/or {"headers": {...}}',
  });

/** The headers to send with every SD WebUI call. Errors name the problem, never the secret's content. */
export function sdHostHeaders(secretString: string): Record<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    // JSON.parse's message quotes the text it choked on: that text is a credential.
    throw new Error('The SD WebUI auth secret is not JSON');
  }
  const result = SdHostAuth.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`The SD WebUI auth secret is invalid: ${problems.join('; ')}`);
  }
  const { username, password, headers } = result.data;
  const sent: Record<string, string> = { ...headers };
  if (username !== undefined) {
    sent.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  return sent;
}
