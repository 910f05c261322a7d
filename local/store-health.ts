import { StoresUnavailableError } from '../core/errors.ts';

/**
 * The emulators' write failed for lack of space: s3rver's file write throws ENOSPC itself,
 * dynalite throws LevelDB's IO error, whose message carries the system's text for it.
 */
export function isOutOfSpace(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'ENOSPC' || /no space left on device/i.test(String(message));
}

/** One line saying why the stores stopped and what brings them back. */
export function storesStoppedMessage(error: unknown, dataDir: string): string {
  if (isOutOfSpace(error)) {
    return (
      `sdbatch's stores stopped: the data dir ${dataDir} is full (ENOSPC, no space left on device). ` +
      'Free space there: sdbatch restarts them and resumes unfinished jobs once there is room.'
    );
  }
  const cause = error instanceof Error ? error.message : String(error);
  return `sdbatch's stores stopped (${cause}); sdbatch is restarting them, and resumes unfinished jobs once they are back.`;
}

type Next = (args: unknown) => Promise<unknown>;
/** The part of an AWS SDK v3 client this needs (DynamoDBClient and S3Client alike). */
interface MiddlewareClient {
  middlewareStack: {
    add(middleware: (next: Next) => Next, options: { step: 'initialize'; name: string }): void;
  };
}

/**
 * Whether the embedded stores can serve now and, while they cannot, why. Guarded SDK clients
 * fail with that reason (StoresUnavailableError) instead of a connection error the caller would
 * read as worth retrying, and do not wait for the SDK's retries while it holds.
 */
export class StoreHealth {
  #down: string | undefined;

  /** The one-line reason while the stores are down, else undefined. */
  get down(): string | undefined {
    return this.#down;
  }

  markDown(reason: string): void {
    this.#down = reason;
  }

  markUp(): void {
    this.#down = undefined;
  }

  /** Makes `client`'s calls fail with the reason while the stores are down, and when they go down under one. */
  guard(client: object): void {
    (client as MiddlewareClient).middlewareStack.add(
      (next) => async (args) => {
        this.throwIfDown();
        try {
          return await next(args);
        } catch (error) {
          // The thread died under this call: say why rather than "connection refused".
          this.throwIfDown(error);
          throw error;
        }
      },
      // Outside the retry step: a call made while the stores are down is refused at once.
      { step: 'initialize', name: 'sdbatchStoreHealth' },
    );
  }

  private throwIfDown(cause?: unknown): void {
    if (this.#down) throw new StoresUnavailableError(this.#down, cause === undefined ? undefined : { cause });
  }
}
