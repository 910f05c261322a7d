import { z } from 'zod';

/** A named API token as stored: only its SHA-256 digest, never the token itself. */
export const TokenRecord = z.object({
  name: z.string(),
  hash: z.string(),
  created_at: z.string(),
  revoked_at: z.string().optional(),
});
export type TokenRecord = z.infer<typeof TokenRecord>;

/** Token names are caller identities: short, plain, and safe in keys and logs. */
export const TokenName = z
  .string()
  .min(1)
  .max(64)
  .regex(
    /^[a-z0-9][a-z0-9._-]*$/,
    'lower-case letters, digits, ".", "_" and "-", starting with a letter or digit',
  );

export interface TokenStore {
  /** Stores a new token; false when the name is taken by a live token. */
  create(record: TokenRecord): Promise<boolean>;
  findByHash(hash: string): Promise<TokenRecord | undefined>;
  list(): Promise<TokenRecord[]>;
  /** Revokes the live token of that name; false when there is none. */
  revoke(name: string, at: string): Promise<boolean>;
}
