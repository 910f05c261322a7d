import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export type SecretReader = (secretId: string) => Promise<string>;

/**
 * Reads each secret's string once: every later call gets the same promise. A read that failed
 * (throttled, network) is forgotten so the next call tries again.
 */
export function cachedSecretReader(client: SecretsManagerClient): SecretReader {
  const cache = new Map<string, Promise<string>>();
  return (secretId) => {
    const cached = cache.get(secretId);
    if (cached) return cached;
    const reading = fetchSecretString(client, secretId);
    cache.set(secretId, reading);
    reading.catch(() => cache.delete(secretId));
    return reading;
  };
}

async function fetchSecretString(client: SecretsManagerClient, secretId: string): Promise<string> {
  let secret: string | undefined;
  try {
    ({ SecretString: secret } = await client.send(new GetSecretValueCommand({ SecretId: secretId })));
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(`Could not read secret ${secretId}: ${reason}`, { cause: error });
  }
  if (secret === undefined)
    throw new Error(`Secret ${secretId} has no SecretString (binary secrets are not supported)`);
  return secret;
}

/** The container's reader: one client, created at module scope like the other SDK clients. */
export const readSecretString: SecretReader = cachedSecretReader(new SecretsManagerClient({}));
