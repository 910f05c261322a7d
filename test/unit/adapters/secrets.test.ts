import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { cachedSecretReader } from '../../../adapters/secrets.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sdbatch-token-AbC123';
const secretsMock = mockClient(SecretsManagerClient);
const reader = () => cachedSecretReader(new SecretsManagerClient({ region: 'eu-west-1' }));

beforeEach(() => secretsMock.reset());

describe('cachedSecretReader', () => {
  it('reads a secret once, however many callers ask', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 's3cret-value' });
    const read = reader();
    const values = await Promise.all([read(ARN), read(ARN), read(ARN)]);
    expect(values).toEqual(['s3cret-value', 's3cret-value', 's3cret-value']);
    expect(await read(ARN)).toBe('s3cret-value');
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secretsMock.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: ARN });
  });

  it('tries again after a failed read, and names the secret (not its value) in the error', async () => {
    secretsMock
      .on(GetSecretValueCommand)
      .rejectsOnce(new ResourceNotFoundException({ message: 'not found', $metadata: {} }))
      .resolves({ SecretString: 'later' });
    const read = reader();
    await expect(read(ARN)).rejects.toThrow(
      `Could not read secret ${ARN}: ResourceNotFoundException: not found`,
    );
    await expect(read(ARN)).resolves.toBe('later');
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('refuses a binary secret', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    await expect(reader()(ARN)).rejects.toThrow('has no SecretString');
  });
});
